"""Bodies Python parses but that would fail us later are refused up front with a 400."""

import json

import pytest

from lib.platform.errors import InvalidRequest
from lib.stages.request_body import MAX_JSON_DEPTH, parse_json_body


def refusal(raw: str) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as error:
        parse_json_body(raw, False, 1024 * 1024)
    assert error.value.code == "invalid_json"
    return error.value


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
def test_numbers_that_are_not_json_are_refused_in_any_field(constant):
    for raw in (
        f'{{"prompt": "p", "temperature": {constant}}}',
        f'{{"prompt": "p", "logit_bias": {{"50256": {constant}}}}}',
        f'{{"prompt": "p", "tools": [{{"x": [{constant}]}}]}}',
    ):
        assert "finite" in refusal(raw).message


def deepest_the_parser_accepts() -> int:
    low, high = 1, 100_000
    while low < high:
        middle = (low + high + 1) // 2
        try:
            json.loads("[" * middle + "]" * middle)
            low = middle
        except RecursionError:
            high = middle - 1
    return low


def test_nesting_just_under_the_parsers_limit_is_a_400_not_a_recursion_error():
    depth = deepest_the_parser_accepts() - 2  # the body object and its field add two levels
    raw = '{"prompt": "p", "metadata": ' + "[" * depth + "]" * depth + "}"
    error = refusal(raw)
    assert error.param == "metadata" and str(MAX_JSON_DEPTH) in error.message


def test_nesting_within_the_limit_is_accepted():
    nested: object = "leaf"
    for _ in range(MAX_JSON_DEPTH - 2):
        nested = {"k": nested}
    assert parse_json_body(json.dumps({"tools": nested}), False, 1024 * 1024)["tools"]


@pytest.mark.parametrize(
    "raw",
    [
        '{"model": "\\ud800"}',
        '{"prompt": "ok", "stop": ["\\udfff"]}',
        '{"\\ud83d": 1}',
        '{"messages": [{"role": "user", "content": "a\\ud83dz"}]}',
    ],
)
def test_a_lone_surrogate_anywhere_is_refused(raw):
    error = refusal(raw)
    error.body()["error"]["message"].encode("utf-8")  # the error itself can be written


def test_a_surrogate_pair_is_text_and_accepted():
    assert parse_json_body('{"prompt": "\\ud83d\\ude00"}', False, 1024)["prompt"] == "😀"

"""Passed-through fields of a type OpenAI's API refuses are the caller's 400, not a provider's 400
reported as our 502 (found by schemathesis: a `suffix` object and a `tools` object were sent on)."""

import pytest

from lib.apis.openai_requests import parse_chat, parse_completion
from lib.platform.config import load_settings
from lib.platform.errors import InvalidRequest

SETTINGS = load_settings({"AUTH_MODE": "none", "AI_MODEL_NAME": "default-model"})
CHAT = {"messages": [{"role": "user", "content": "Hi"}]}
LEGACY = {"prompt": "Hi"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("suffix", {"a": []}),
        ("suffix", 3),
        ("stop", 5),
        ("stop", ["ok", 1]),
        ("tools", {"4": {}}),
        ("tools", ["not an object"]),
        ("tool_choice", 1),
        ("response_format", "json"),
        ("logit_bias", {"50256": "ban"}),
        ("user", ["x"]),
        ("top_p", "0.5"),
        ("top_p", True),
        ("presence_penalty", []),
        ("parallel_tool_calls", "yes"),
    ],
)
def test_a_field_of_the_wrong_type_is_a_400_naming_it(field, value):
    for parse, body in ((parse_chat, CHAT), (parse_completion, LEGACY)):
        with pytest.raises(InvalidRequest) as error:
            parse({**body, field: value}, SETTINGS)
        assert error.value.param == field and error.value.status == 400


def test_the_documented_types_null_and_unknown_fields_pass_through():
    fields = {
        "stop": ["\n", "END"],
        "suffix": None,
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "response_format": {"type": "json_object"},
        "logit_bias": {"50256": -100},
        "user": "u1",
        "top_p": 1,
        "frequency_penalty": 0.5,
        "parallel_tool_calls": False,
        "a_future_parameter": {"anything": [1, "two"]},
    }
    request = parse_chat({**CHAT, **fields}, SETTINGS)
    assert request.upstream_payload() | fields == request.upstream_payload()

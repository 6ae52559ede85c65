"""Caller input that used to escape the rules or become our failure, through the whole handler."""

import json

import pytest
import requests

from lib import services
from lib.core.request import ModelRequest
from lib.core.token_estimate import MESSAGE_TOKENS, REQUEST_TOKENS
from local.server import serving
from tests.conftest import call
from tests.support.fake_upstream import Behaviour, completion

TOOL_DESCRIPTION = "d" * 5000
TOOLS = [{"type": "function", "function": {"name": "f", "description": TOOL_DESCRIPTION}}]


def tokens_today() -> int:
    return int(call("GET", "/v1/usage").json["tokens_today"])


def metric_totals(output) -> dict[str, float]:
    totals: dict[str, float] = {}
    for blob in output.metric_blobs():
        for name in ("UpstreamCalls", "UpstreamFailures", "Errors", "Rejected"):
            if name in blob:
                values = blob[name] if isinstance(blob[name], list) else [blob[name]]
                totals[name] = totals.get(name, 0) + sum(values)
    return totals


class TestPassedThroughFields:
    def test_tools_count_toward_the_reservation(self, aws, gateway_env, upstream):
        # Given an upstream that times out after it may have generated an answer (a deadline with room
        # for the admission's store calls on a loaded machine: the call must reach the upstream)
        gateway_env.setenv("AI_MODEL_TIMEOUT_S", "2")
        gateway_env.setenv("AI_MODEL_MAX_RETRIES", "0")
        gateway_env.setenv("DAILY_TOKEN_BUDGET", "10000")  # the tool's 5,000 characters fit
        services.reset()
        upstream.then(Behaviour(delay_s=30))
        # When a request with a large tool description fails
        body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 10, "tools": TOOLS}
        assert call("POST", "/v1/chat/completions", body).status == 504
        # Then the whole input's bound, tools included, was reserved and charged
        messages = ({"role": "user", "content": "hi"},)
        reserved = ModelRequest("chat", "", 10, messages, extra={"tools": TOOLS}).reserved_tokens
        assert tokens_today() == reserved > len(TOOL_DESCRIPTION) + 10

    def test_too_much_text_in_passed_through_fields_is_a_400_and_nothing_is_spent(
        self, aws, gateway_env, upstream
    ):
        gateway_env.setenv("MAX_BODY_BYTES", str(256 * 1024))
        services.reset()
        tools = [{"type": "function", "function": {"name": "f", "description": "d" * 60_000}}]
        reply = call(
            "POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "tools": tools}
        )
        assert reply.status == 400 and reply.error["code"] == "input_too_long"
        assert upstream.received == [] and tokens_today() == 0


class TestInputThatUsedToBecomeOurFailure:
    @pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions", "/api/generate"])
    @pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
    def test_not_a_json_number_is_a_400_and_no_upstream_failure(
        self, gateway_env, upstream, output, path, number
    ):
        fields = '"messages": [{"role": "user", "content": "hi"}]' if "chat" in path else '"prompt": "hi"'
        raw = ("{" + fields + ', "top_p": ' + number + "}").encode()
        reply = call("POST", path, raw_body=raw)
        assert reply.status == 400 and reply.error["code"] == "invalid_json"
        assert upstream.received == []
        assert metric_totals(output).get("UpstreamFailures") == 0

    def test_nesting_just_under_the_parsers_limit_is_a_400(self, gateway_env, upstream):
        # The handler's own stack is deeper than this test's, so sweep the depths near the limit.
        from tests.unit.test_request_body import deepest_the_parser_accepts

        limit = deepest_the_parser_accepts()
        statuses = set()
        for depth in range(limit - 400, limit, 9):
            nested = "[" * depth + "]" * depth
            raw = '{"messages": [{"role": "user", "content": "hi"}], "metadata": ' + nested + "}"
            statuses.add(call("POST", "/v1/chat/completions", raw_body=raw.encode()).status)
        assert statuses == {400}
        assert upstream.received == []

    @pytest.mark.parametrize("path", ["/v1/chat/completions", "/api/generate"])
    def test_a_lone_surrogate_in_model_is_a_400_and_the_access_line_is_written(
        self, gateway_env, upstream, output, path
    ):
        fields = '"messages": [{"role": "user", "content": "hi"}]' if "chat" in path else '"prompt": "hi"'
        raw = ('{"model": "m\\ud800", ' + fields + "}").encode()
        reply = call("POST", path, raw_body=raw)
        assert reply.status == 400 and reply.error["code"] == "invalid_json"
        reply.text.encode("utf-8")
        access = output.access_lines()
        assert len(access) == 1 and access[0]["status"] == 400
        assert upstream.received == []


def stream_reporting(prompt_tokens: int, completion_tokens: int) -> Behaviour:
    """An OpenAI stream of one word whose usage chunk reports these counts."""
    head = {"id": "s", "object": "chat.completion.chunk", "created": 1, "model": "test-model"}
    chunks = [
        {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}}]},
        {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]},
        {
            **head,
            "choices": [],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens},
        },
    ]
    events = [f"data: {json.dumps(chunk)}\n\n".encode() for chunk in chunks] + [b"data: [DONE]\n\n"]
    return Behaviour(parts=tuple(events), headers={"Content-Type": "text/event-stream"})


class TestUsageAboveTheReservation:
    """An underestimate is a bug to see, not to hide: the charge is what the provider reported."""

    def test_is_charged_as_reported_logged_and_counted(self, aws, gateway_env, upstream, output):
        # Given a provider that ignores max_tokens and reports 200,000 tokens
        upstream.then(Behaviour(body=completion(prompt_tokens=3, completion_tokens=200_000)))
        # When a request for at most 500 tokens is served
        reply = call("POST", "/api/generate", {"prompt": "abc", "max_tokens": 500})
        # Then the caller sees the provider's figures, and the budget is charged exactly them
        assert reply.status == 200 and reply.json["usage"]["total_tokens"] == 200_003
        assert tokens_today() == 200_003
        # And the excess over the reservation is in the access line, a warning and a metric
        reserved = REQUEST_TOKENS + MESSAGE_TOKENS + 3 + 500
        access = output.access_lines()[0]
        assert access["charged_tokens"] == 200_003 and access["reserved_tokens"] == reserved
        assert access["tokens_above_reservation"] == 200_003 - reserved
        warning = next(
            line for line in output.lines() if line.get("message") == "usage above the reservation"
        )
        assert warning["level"] == "WARNING" and warning["tokens_above_reservation"] == 200_003 - reserved
        excess = [
            blob["TokensAboveReservation"]
            for blob in output.metric_blobs()
            if "TokensAboveReservation" in blob
        ]
        assert excess == [[200_003 - reserved]]
        assert json.loads(json.dumps(reply.json))  # still a plain reply

    def test_within_the_reservation_there_is_no_excess_metric(self, aws, gateway_env, upstream, output):
        assert call("POST", "/api/generate", {"prompt": "abc", "max_tokens": 500}).status == 200
        assert tokens_today() == 15  # the fake's usage
        assert "tokens_above_reservation" not in output.access_lines()[0]
        assert not any("TokensAboveReservation" in blob for blob in output.metric_blobs())

    def test_a_stream_is_charged_as_reported_too(self, aws, gateway_env, upstream):
        import handler

        # Given a provider whose stream reports 60,015 tokens for a request that reserved 22
        upstream.then(stream_reporting(15, 60_000))
        with serving(handler.wsgi_app) as url:
            reply = requests.post(
                f"{url}/v1/chat/completions",
                json={
                    "model": "test-model",
                    "messages": [{"role": "user", "content": "Hello"}],
                    "max_tokens": 1,
                    "stream": True,
                    "stream_options": {"include_usage": True},
                },
                timeout=10,
            )
            # (the usage chunk reaches the caller as the provider sent it)
            assert reply.status_code == 200 and '"completion_tokens": 60000' in reply.text.replace(
                '":', '": '
            )
            # Then the budget is charged what the provider reported
            assert requests.get(f"{url}/v1/usage", timeout=5).json()["tokens_today"] == 60_015


class TestConfiguration:
    @pytest.mark.parametrize("key", ["sk-pasted\u2026key-0123456789", "sk-non-latin-\u4e00-0123456789"])
    def test_a_provider_key_outside_latin1_is_a_503_naming_the_setting(self, gateway_env, upstream, key):
        gateway_env.setenv("AI_MODEL_API_KEY", key)
        services.reset()
        reply = call("POST", "/api/generate", {"prompt": "hi"})
        assert reply.status == 503 and reply.error["code"] == "not_configured"
        assert "AI_MODEL_API_KEY" in reply.error["message"] and key not in reply.text
        assert upstream.received == []

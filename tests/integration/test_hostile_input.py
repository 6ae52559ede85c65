"""Caller input that used to escape the rules or become our failure, through the whole handler."""

import json

import pytest
import requests

from lib import services
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
        services.reset()
        upstream.then(Behaviour(delay_s=30))
        # When a request with a large tool description fails
        body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 10, "tools": TOOLS}
        assert call("POST", "/v1/chat/completions", body).status == 504
        # Then the whole text sent, tools included, was reserved and charged
        tool_chars = len("typefunctionfunctionnamefdescription") + len(TOOL_DESCRIPTION)
        assert tokens_today() == 2 + tool_chars + 10

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


class TestUsageAboveMaxTokens:
    def test_is_charged_at_most_the_reservation(self, aws, gateway_env, upstream, output):
        # Given a provider that ignores max_tokens and reports 200,000 tokens
        upstream.then(Behaviour(body=completion(prompt_tokens=3, completion_tokens=200_000)))
        # When a request for at most 500 tokens is served
        reply = call("POST", "/api/generate", {"prompt": "abc", "max_tokens": 500})
        # Then the caller sees the provider's figures, and the budget is charged prompt + max_tokens
        assert reply.status == 200 and reply.json["usage"]["total_tokens"] == 200_003
        assert tokens_today() == 3 + 500
        assert output.access_lines()[0]["charged_tokens"] == 503
        assert json.loads(json.dumps(reply.json))  # still a plain reply

    def test_a_stream_is_charged_at_most_the_reservation_too(self, aws, gateway_env, upstream):
        import handler

        # Given a provider whose stream reports 15 tokens for a request that allowed 5 + 1
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
            assert reply.status_code == 200 and '"total_tokens": 15' in reply.text.replace('":', '": ')
            # Then the budget is charged the reservation, 6
            assert requests.get(f"{url}/v1/usage", timeout=5).json()["tokens_today"] == 6


class TestConfiguration:
    @pytest.mark.parametrize("key", ["sk-pasted\u2026key-0123456789", "sk-non-latin-\u4e00-0123456789"])
    def test_a_provider_key_outside_latin1_is_a_503_naming_the_setting(self, gateway_env, upstream, key):
        gateway_env.setenv("AI_MODEL_API_KEY", key)
        services.reset()
        reply = call("POST", "/api/generate", {"prompt": "hi"})
        assert reply.status == 503 and reply.error["code"] == "not_configured"
        assert "AI_MODEL_API_KEY" in reply.error["message"] and key not in reply.text
        assert upstream.received == []

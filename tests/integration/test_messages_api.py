"""`POST /v1/messages` through the handler: passed through on an `anthropic` route (thinking, cache
tokens, beta flags), the same limits, budgets and cache as chat, and every error in Anthropic's shape."""

import json

import pytest

from lib import services
from tests.conftest import call
from tests.support.client_keys import new_client_key
from tests.support.fake_anthropic import FakeAnthropic, event_stream, message, text_block
from tests.support.fake_upstream import Behaviour

ROUTES = """
default = "claude"

[[route]]
name = "claude"
provider = "anthropic"
endpoint = "{claude}"
model = "claude-sonnet-4-5"
key = "env:CLAUDE_KEY"

[[route]]
name = "gpt"
provider = "openai"
endpoint = "{gpt}"
model = "deepseek-chat"
key = "env:GPT_KEY"
"""
HI = {"model": "claude", "max_tokens": 50, "messages": [{"role": "user", "content": "Hi"}]}
THINKING = {"type": "thinking", "thinking": "The user greets me.", "signature": "EqQBCgIYAhIM"}


def anthropic_events(data: str) -> list[dict]:
    return [json.loads(line.removeprefix("data: ")) for line in data.split("\n") if line.startswith("data: ")]


def tokens_today() -> int:
    return int(call("GET", "/v1/usage").json["tokens_today"])


@pytest.fixture
def claude_api():
    server = FakeAnthropic().start()
    yield server
    server.stop()


@pytest.fixture
def routed(gateway_env, upstream, claude_api, tmp_path):
    routes = tmp_path / "routes.toml"
    routes.write_text(ROUTES.format(claude=claude_api.base_url, gpt=upstream.base_url), encoding="utf-8")
    gateway_env.setenv("ROUTES_FILE", str(routes))
    gateway_env.setenv("CLAUDE_KEY", "sk-ant-route-key-0123456789")
    gateway_env.setenv("GPT_KEY", "sk-gpt-route-key-0123456789")
    gateway_env.setenv("AI_MODEL_MAX_RETRIES", "0")
    services.reset()
    return gateway_env


@pytest.mark.usefixtures("routed")
class TestPassedThrough:
    def test_anthropic_s_message_comes_back_whole_and_its_cache_tokens_are_charged(self, aws, claude_api):
        # Given Anthropic answering with a thinking block, a cited text and prompt cache tokens
        cited = {**text_block("Hello!"), "citations": [{"type": "char_location", "cited_text": "Hi"}]}
        answer = message(THINKING, cited, input_tokens=3, output_tokens=2, model="claude-sonnet-4-5-20250929")
        answer["usage"].update(cache_creation_input_tokens=5, cache_read_input_tokens=7)
        claude_api.then(Behaviour(body=answer))
        body = {
            **HI,
            "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        }

        # When a Messages request with beta flags is sent
        reply = call("POST", "/v1/messages", body, headers={"anthropic-beta": "context-1m-2025-08-07"})

        # Then the caller gets Anthropic's message as it came, named after the route
        assert reply.status == 200, reply.text
        assert reply.json == {**answer, "model": "claude"}
        # ... Anthropic got the caller's body and beta flags, the route's model and no caller key
        sent = claude_api.received[0]
        assert sent.body == {**body, "model": "claude-sonnet-4-5"}
        assert sent.headers["anthropic-beta"] == "context-1m-2025-08-07"
        assert sent.headers["x-api-key"] == "sk-ant-route-key-0123456789"
        # ... and every token Anthropic bills was charged, those read from and written to its cache too
        assert tokens_today() == 3 + 5 + 7 + 2

    def test_a_stream_s_events_come_back_as_anthropic_sent_them(self, aws, claude_api):
        # Given Anthropic streaming its thinking, then text
        start = {**message(input_tokens=4, output_tokens=1), "content": [], "stop_reason": None}
        events = [
            {"type": "message_start", "message": start},
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "thinking", "thinking": ""},
            },
            {"type": "ping"},
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": "Hm."},
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "signature_delta", "signature": "EqQB"},
            },
            {"type": "content_block_stop", "index": 0},
            {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
            {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi!"}},
            {"type": "content_block_stop", "index": 1},
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 6}},
            {"type": "message_stop"},
        ]
        claude_api.then(Behaviour(body=event_stream(*events), headers={"Content-Type": "text/event-stream"}))

        # When the caller streams
        reply = call(
            "POST",
            "/v1/messages",
            {**HI, "stream": True, "thinking": {"type": "enabled", "budget_tokens": 1024}},
        )

        # Then every event is the one Anthropic sent, but for the route's public name
        assert reply.status == 200 and reply.headers["content-type"] == "text/event-stream"
        expected = [events[0] | {"message": {**start, "model": "claude"}}, *events[1:]]
        assert anthropic_events(reply.text) == expected
        assert claude_api.received[0].body["thinking"] == {"type": "enabled", "budget_tokens": 1024}
        assert tokens_today() == 4 + 6


@pytest.mark.usefixtures("routed")
class TestTheStagesChatHas:
    def test_a_repeat_is_answered_from_the_cache_and_replayed_as_a_stream(self, aws, routed, claude_api):
        # Given CACHE_MODE=all and a first answer
        routed.setenv("CACHE_MODE", "all")
        services.reset()
        claude_api.then(Behaviour(body=message(THINKING, text_block("Hello!"))))
        first = call("POST", "/v1/messages", HI)

        # When the same request is sent again, streamed
        again = call("POST", "/v1/messages", {**HI, "stream": True})

        # Then it is a hit, the stored message replayed as Anthropic's events, thinking block included
        assert first.headers["x-cache"] == "miss" and again.headers["x-cache"] == "hit"
        events = anthropic_events(again.text)
        assert events[1]["content_block"] == THINKING
        assert events[4]["delta"] == {"type": "text_delta", "text": "Hello!"}
        assert len(claude_api.received) == 1

    def test_a_stream_that_breaks_off_ends_with_anthropic_s_error_event(self, upstream):
        upstream.then(Behaviour(stream_cut_after=1))

        reply = call("POST", "/v1/messages", {**HI, "model": "gpt", "stream": True})

        events = anthropic_events(reply.text)
        assert events[0]["type"] == "message_start" and events[-1]["type"] == "error"
        assert events[-1]["error"]["type"] == "api_error" and "message_stop" not in reply.text

    def test_the_blocklist_is_a_400_in_anthropic_s_shape(self, routed, claude_api):
        routed.setenv("BLOCKED_PATTERNS", "forbidden")
        services.reset()

        reply = call("POST", "/v1/messages", {**HI, "system": "a forbidden word"})

        assert reply.status == 400 and reply.json["type"] == "error"
        assert reply.json["error"]["type"] == "invalid_request_error"
        assert claude_api.received == []

    def test_a_body_too_large_is_request_too_large(self, routed):
        routed.setenv("MAX_BODY_BYTES", "1024")
        services.reset()

        reply = call("POST", "/v1/messages", {**HI, "system": "x" * 2000})

        assert reply.status == 413
        assert reply.json == {
            "type": "error",
            "error": {"type": "request_too_large", "message": reply.json["error"]["message"]},
        }

    def test_an_unknown_path_under_messages_is_anthropic_s_404(self):
        reply = call("POST", "/v1/messages/batches", HI)
        assert reply.status == 404 and reply.json["error"]["type"] == "not_found_error"

    def test_chat_errors_keep_openai_s_shape(self):
        reply = call("POST", "/v1/chat/completions", {"messages": []})
        assert reply.status == 400 and reply.json["error"]["param"] == "messages"


@pytest.fixture
def client_key(aws, routed):
    """AUTH_MODE=keys with a rate limit of one request; the key the admin command printed."""
    routed.setenv("AUTH_MODE", "keys")
    routed.setenv("RATE_LIMIT_RPM", "1")
    routed.setenv("RATE_LIMIT_BURST", "1")
    services.reset()
    return new_client_key(aws)


def test_the_key_comes_as_x_api_key_and_the_limits_answer_in_anthropic_s_shape(client_key):
    # Given a key sent as the anthropic SDK sends it
    headers = {"content-type": "application/json", "x-api-key": client_key, "anthropic-version": "2023-06-01"}

    # When it is used twice against a limit of one, then a wrong key is sent
    first = call("POST", "/v1/messages", HI, headers=headers)
    second = call("POST", "/v1/messages", HI, headers=headers)
    wrong = call(
        "POST", "/v1/messages", HI, headers={**headers, "x-api-key": "mg-not-a-real-key-000000000000"}
    )

    # Then the first is served, the second is Anthropic's 429 with retry-after, the third its 401
    assert first.status == 200, first.text
    assert second.status == 429 and second.json["type"] == "error"
    assert second.json["error"]["type"] == "rate_limit_error"
    assert int(second.headers["retry-after"]) >= 1
    assert wrong.status == 401 and wrong.json["type"] == "error"
    assert wrong.json["error"]["type"] == "authentication_error"

"""The Anthropic provider over HTTP, against a loopback server speaking the Messages API's wire format."""

import json
import time

import pytest
import requests

from lib import services
from lib.apis.openai_requests import parse_chat, parse_completion
from lib.keys.sources import StaticKeySource
from lib.platform.config import load_settings
from lib.platform.deadline import Deadline
from lib.platform.errors import InvalidRequest, UpstreamError
from lib.platform.route_table import Route
from lib.providers import PROVIDERS, anthropic
from lib.providers.base import ProviderContext, http_provider
from lib.providers.call_stats import CallStats
from lib.providers.upstream_stream import StreamLimits
from lib.rotation.errors import RotationError
from lib.rotation.key_check import key_tester
from tests.conftest import call
from tests.support.fake_anthropic import (
    FakeAnthropic,
    error_body,
    event_stream,
    message,
    text_block,
    text_stream,
    tool_use_block,
)
from tests.support.fake_upstream import Behaviour

KEY = "sk-ant-api03-secret-0123456789abcdef"
SETTINGS = load_settings({"AUTH_MODE": "none"})
PROVIDER_TEXT = "your key sk-ant-api03-secret-0123456789abcdef leaked in this message"


class RotatingKeys:
    """A key source whose `refresh` returns the next key, like a stored key after rotation."""

    def __init__(self, *keys):
        self.keys = list(keys)

    def get_key(self, *, refresh=False):
        if refresh and len(self.keys) > 1:
            self.keys.pop(0)
        return self.keys[0]


@pytest.fixture
def claude_api():
    server = FakeAnthropic().start()
    yield server
    server.stop()


def provider_for(server, key_source=None, **context):
    route = Route(
        name="claude", provider="anthropic", model="claude-sonnet-4-5", endpoint=server.base_url, key="env:K"
    )
    return http_provider(
        anthropic, route, key_source or StaticKeySource(KEY), ProviderContext(requests.Session(), **context)
    )


def ask(provider, request=None, stats=None):
    request = request or parse_chat(
        {
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
            "max_tokens": 40,
        },
        SETTINGS,
    )
    provider.check(request)
    return provider.complete(request, Deadline(10), stats if stats is not None else CallStats())


def test_an_answer_is_an_openai_chat_completion_and_the_request_is_anthropics(claude_api):
    reply = ask(provider_for(claude_api))
    assert reply["choices"][0]["message"] == {"role": "assistant", "content": "Hello from Claude"}
    assert reply["usage"] == {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18}
    (sent,) = claude_api.received
    assert (sent.method, sent.path) == ("POST", "/v1/messages")
    assert sent.headers["x-api-key"] == KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "Authorization" not in sent.headers
    assert sent.body == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 40,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
    }


def test_a_legacy_completion_is_answered_as_a_text_completion(claude_api):
    claude_api.then(Behaviour(body=message(text_block(" there was a gateway."), stop_reason="max_tokens")))
    request = parse_completion({"prompt": "Once upon a time", "max_tokens": 8}, SETTINGS)
    choice = ask(provider_for(claude_api), request)["choices"][0]
    assert (choice["text"], choice["finish_reason"]) == (" there was a gateway.", "length")
    assert claude_api.received[0].body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Once upon a time"}]}
    ]


def test_tool_use_round_trip(claude_api):
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    claude_api.then(
        Behaviour(
            body=message(
                text_block("Checking."),
                tool_use_block("toolu_9", "get_weather", {"city": "Oslo"}),
                stop_reason="tool_use",
            )
        )
    )
    first = parse_chat(
        {"messages": [{"role": "user", "content": "Oslo?"}], "tools": [tool], "tool_choice": "required"},
        SETTINGS,
    )
    reply = ask(provider_for(claude_api), first)
    choice = reply["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Checking."
    call = choice["message"]["tool_calls"][0]
    assert json.loads(call["function"]["arguments"]) == {"city": "Oslo"}
    sent = claude_api.received[0].body
    assert sent["tools"] == [{"name": "get_weather", "input_schema": {"type": "object"}}]
    assert sent["tool_choice"] == {"type": "any"}

    # The caller answers the call the OpenAI way; Anthropic gets tool_use and tool_result blocks.
    second = parse_chat(
        {
            "messages": [
                {"role": "user", "content": "Oslo?"},
                choice["message"],
                {"role": "tool", "tool_call_id": call["id"], "content": "-3 C"},
            ],
            "tools": [tool],
        },
        SETTINGS,
    )
    ask(provider_for(claude_api), second)
    turns = claude_api.received[1].body["messages"]
    assert turns[1]["content"][1] == {
        "type": "tool_use",
        "id": "toolu_9",
        "name": "get_weather",
        "input": {"city": "Oslo"},
    }
    assert turns[2] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "-3 C"}],
    }


def test_a_field_anthropic_cannot_take_is_refused_before_any_call(claude_api):
    request = parse_chat({"messages": [{"role": "user", "content": "Hi"}], "logit_bias": {"1": 5}}, SETTINGS)
    with pytest.raises(InvalidRequest, match="logit_bias is not supported by route 'claude'"):
        provider_for(claude_api).check(request)
    assert claude_api.received == []


def test_a_400_reports_anthropics_error_type_never_its_text(claude_api):
    claude_api.then(Behaviour(400, error_body("invalid_request_error", PROVIDER_TEXT)))
    stats = CallStats()
    with pytest.raises(UpstreamError) as error:
        ask(provider_for(claude_api), stats=stats)
    assert "HTTP 400 (invalid_request_error)" in error.value.message
    assert "sk-ant" not in error.value.message
    assert stats.attempts == 1  # a refusal is not retried


def test_a_401_re_reads_the_key_once_and_uses_the_new_one(claude_api):
    claude_api.valid_keys = {"sk-ant-new"}
    stats = CallStats()
    reply = ask(provider_for(claude_api, RotatingKeys("sk-ant-old", "sk-ant-new")), stats=stats)
    assert reply["choices"][0]["message"]["content"] == "Hello from Claude"
    assert [sent.headers["x-api-key"] for sent in claude_api.received] == ["sk-ant-old", "sk-ant-new"]
    assert stats.key_refreshed


def test_a_401_with_no_new_key_fails_without_the_key_or_the_providers_text(claude_api):
    claude_api.valid_keys = {"sk-ant-other"}
    with pytest.raises(UpstreamError) as error:
        ask(provider_for(claude_api))
    assert "rejected the API key (HTTP 401)" in error.value.message
    assert KEY not in error.value.message and "x-api-key" not in error.value.message


@pytest.mark.parametrize(
    ("status", "error_type"), [(429, "rate_limit_error"), (529, "overloaded_error"), (500, "api_error")]
)
def test_rate_limits_and_overload_are_retried(claude_api, status, error_type):
    claude_api.then(Behaviour(status, error_body(error_type, PROVIDER_TEXT), headers={"retry-after": "0"}))
    stats = CallStats()
    reply = ask(provider_for(claude_api), stats=stats)
    assert reply["choices"][0]["message"]["content"] == "Hello from Claude"
    assert (stats.attempts, stats.retries) == (2, 1)


def test_overload_that_outlasts_the_retries_is_an_upstream_error(claude_api):
    overloaded = Behaviour(529, error_body("overloaded_error", PROVIDER_TEXT), headers={"retry-after": "0"})
    claude_api.then(overloaded, overloaded)
    with pytest.raises(UpstreamError) as error:
        ask(provider_for(claude_api, max_retries=1))
    assert "HTTP 529" in error.value.message
    assert "sk-ant" not in error.value.message


@pytest.mark.parametrize(
    "body",
    [
        error_body("overloaded_error", PROVIDER_TEXT),  # an error with a 200 status
        {"completion": PROVIDER_TEXT, "stop_reason": "stop_sequence"},  # the old Text Completions API
        {**message(), "content": [{"type": "text", "text": None}]},
    ],
)
def test_a_200_in_an_unexpected_shape_is_an_upstream_error(claude_api, body):
    claude_api.then(Behaviour(body=body))
    with pytest.raises(UpstreamError) as error:
        ask(provider_for(claude_api))
    assert error.value.status == 502
    assert "leaked" not in error.value.message and "sk-ant" not in error.value.message


def test_a_stream_is_asked_for_and_read_event_by_event(claude_api):
    claude_api.then(
        Behaviour(body=event_stream(*text_stream("Hel", "lo", input_tokens=25, output_tokens=15)))
    )
    request = parse_chat({"messages": [{"role": "user", "content": "Hi"}], "stream": True}, SETTINGS)
    limits = StreamLimits(idle_s=5, ends_at=time.monotonic() + 10)
    pieces = provider_for(claude_api).open_stream(request, Deadline(10), CallStats(), limits)
    assert pieces is not None
    pieces = list(pieces)
    assert "".join(piece.text for piece in pieces) == "Hello"
    assert (pieces[-1].finish_reason, pieces[-1].usage) == ("stop", (25, 15))
    sent = claude_api.received[0]
    assert sent.path == "/v1/messages" and sent.body["stream"] is True


def test_an_overloaded_stream_is_retried_before_its_first_event(claude_api):
    claude_api.then(
        Behaviour(529, error_body("overloaded_error", PROVIDER_TEXT), headers={"retry-after": "0"}),
        Behaviour(body=event_stream(*text_stream("Hi"))),
    )
    request = parse_chat({"messages": [{"role": "user", "content": "Hi"}], "stream": True}, SETTINGS)
    stats = CallStats()
    limits = StreamLimits(idle_s=5, ends_at=time.monotonic() + 10)
    pieces = provider_for(claude_api).open_stream(request, Deadline(10), stats, limits)
    assert pieces is not None and "".join(piece.text for piece in pieces) == "Hi"
    assert stats.retries == 1


def test_the_key_check_path_lists_models_with_the_same_headers(claude_api):
    provider = provider_for(claude_api)
    body = provider.client.call("GET", anthropic.KEY_CHECK_PATH, None, Deadline(5))
    assert body["data"][0]["id"] == "claude-test"
    sent = claude_api.received[0]
    assert (sent.method, sent.path) == ("GET", "/v1/models")
    assert (sent.headers["x-api-key"], sent.headers["anthropic-version"]) == (KEY, "2023-06-01")


def test_the_registered_factory_builds_this_provider(claude_api):
    route = Route(
        name="claude", provider="anthropic", model="claude-haiku", endpoint=claude_api.base_url, key="env:K"
    )
    provider = PROVIDERS["anthropic"].create(route, StaticKeySource(KEY), ProviderContext(requests.Session()))
    ask(provider)
    assert claude_api.received[0].body["model"] == "claude-haiku"


def test_rotation_tests_a_new_anthropic_key_the_way_anthropic_takes_it(claude_api):
    claude_api.valid_keys = {"sk-ant-good-0123456789"}
    test_key = key_tester(claude_api.base_url, requests.Session(), 2, anthropic)
    test_key("sk-ant-good-0123456789")
    sent = claude_api.received[0]
    assert (sent.path, sent.headers["x-api-key"], sent.headers["anthropic-version"]) == (
        "/v1/models",
        "sk-ant-good-0123456789",
        "2023-06-01",
    )
    with pytest.raises(RotationError, match="did not work") as error:
        test_key("sk-ant-bad-0123456789")
    assert "sk-ant" not in str(error.value)


ROUTES = """
default = "general"

[[route]]
name = "general"
provider = "openai"
endpoint = "{general}"
model = "deepseek-chat"
key = "env:GENERAL_KEY"

[[route]]
name = "claude"
provider = "anthropic"
endpoint = "{claude}"
model = "claude-sonnet-4-5"
key = "env:ANTHROPIC_KEY"
fallbacks = ["general"]
"""


class TestThroughTheHandler:
    @pytest.fixture(autouse=True)
    def routed(self, gateway_env, upstream, claude_api, tmp_path):
        routes = tmp_path / "routes.toml"
        routes.write_text(
            ROUTES.format(general=upstream.base_url, claude=claude_api.base_url), encoding="utf-8"
        )
        gateway_env.setenv("ROUTES_FILE", str(routes))
        gateway_env.setenv("GENERAL_KEY", "sk-general-route-key-0123456789")
        gateway_env.setenv("ANTHROPIC_KEY", KEY)
        gateway_env.setenv("AI_MODEL_MAX_RETRIES", "1")
        services.reset()

    def test_an_anthropic_route_answers_in_openai_shape(self, upstream, claude_api):
        reply = call(
            "POST",
            "/v1/chat/completions",
            {
                "model": "claude",
                "messages": [{"role": "user", "content": "Hi"}],
                "max_tokens": 30,
                "stop": "END",
            },
        )
        assert reply.status == 200
        assert reply.json["model"] == "claude"
        assert reply.json["choices"][0]["message"]["content"] == "Hello from Claude"
        assert reply.json["usage"]["total_tokens"] == 18
        sent = claude_api.received[0]
        assert sent.path == "/v1/messages" and sent.headers["x-api-key"] == KEY
        assert sent.body["stop_sequences"] == ["END"] and sent.body["max_tokens"] == 30
        assert upstream.received == []

    def test_a_stream_is_forwarded_as_openai_chunks(self, claude_api):
        claude_api.then(
            Behaviour(body=event_stream(*text_stream("Hel", "lo", input_tokens=25, output_tokens=15)))
        )
        body = {
            "model": "claude",
            "messages": [{"role": "user", "content": "Hi"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        reply = call("POST", "/v1/chat/completions", body)
        assert reply.status == 200
        events = [line.removeprefix("data: ") for line in reply.text.split("\n\n") if line]
        assert events[-1] == "[DONE]"
        chunks = [json.loads(event) for event in events[:-1]]
        assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == "Hello"
        assert chunks[-1]["usage"] == {"prompt_tokens": 25, "completion_tokens": 15, "total_tokens": 40}
        assert {c["model"] for c in chunks} == {"claude"}
        assert claude_api.received[0].body["stream"] is True

    def test_a_field_anthropic_cannot_take_is_a_400_naming_the_route_and_nothing_is_sent(
        self, upstream, claude_api
    ):
        reply = call(
            "POST",
            "/v1/chat/completions",
            {"model": "claude", "messages": [{"role": "user", "content": "Hi"}], "seed": 7},
        )
        assert reply.status == 400
        assert reply.error["message"] == "seed is not supported by route 'claude' (anthropic)"
        assert reply.error["param"] == "seed"
        assert claude_api.received == [] and upstream.received == []

    def test_an_overloaded_anthropic_route_falls_back(self, upstream, claude_api):
        overloaded = Behaviour(
            529, error_body("overloaded_error", PROVIDER_TEXT), headers={"retry-after": "0"}
        )
        claude_api.then(overloaded, overloaded)
        reply = call(
            "POST",
            "/v1/chat/completions",
            {"model": "claude", "messages": [{"role": "user", "content": "Hi"}]},
        )
        assert reply.status == 200
        assert reply.json["model"] == "general"
        assert len(claude_api.received) == 2 and len(upstream.received) == 1

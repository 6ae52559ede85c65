"""Under ZERO_COST a free route receives only fields that cannot change what the provider charges
(lib/routing/quotas.py: FREE_FIELDS, and a route's pass_fields); every reply names the model the
provider says answered (x-modelgate-upstream-model)."""

from __future__ import annotations

import pytest
import requests

from lib import services
from local.server import serving
from tests.conftest import call
from tests.integration.test_routing import write_routes
from tests.support.fake_upstream import Behaviour, completion

ROUTES = """
[[route]]
name = "free"
provider = "openai"
endpoint = "{url}"
model = "openrouter/auto"
key = "env:K"
fallbacks = ["open"]
free_tokens_per_month = 100000
{pass_fields}

[[route]]
name = "open"
provider = "openai"
endpoint = "{url}"
model = "local-model"
key = "env:K"
price_per_1k_tokens = 0
pass_fields = ["reasoning"]
"""
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def free_routes(aws, gateway_env, upstream, tmp_path):
    def configure(zero_cost: bool = True, pass_fields: str = "") -> None:
        text = ROUTES.format(url=upstream.base_url, pass_fields=pass_fields)
        gateway_env.setenv("ROUTES_FILE", write_routes(tmp_path, text))
        gateway_env.setenv("K", "sk-free-route-key-0123456789")
        gateway_env.setenv("ZERO_COST", "true" if zero_cost else "false")
        services.reset()

    return configure


BILLING_FIELDS = {
    "models": ["openai/gpt-4o", "anthropic/claude-opus"],  # OpenRouter's fallbacks to paid models
    "route": "fallback",
    "plugins": [{"id": "web"}],
    "web_search_options": {},
    "service_tier": "priority",
    "provider": {"order": ["OpenAI"]},
    "reasoning": {"effort": "high"},
    "tools": [{"type": "web_search_preview"}],  # a tool the provider runs, and bills
}


def test_a_field_that_could_bill_is_a_400_naming_it_and_the_route(free_routes, upstream):
    # Given a free route under ZERO_COST
    free_routes()
    for field, value in BILLING_FIELDS.items():
        # When a caller sends a field that can change what the provider charges
        reply = call("POST", "/v1/chat/completions", {"model": "free", "messages": HI, field: value})
        # Then it is refused before anything is sent, naming the field and the route
        assert reply.status == 400 and reply.error["code"] == "field_not_free", field
        assert reply.error["param"] == field and f"{field!r}" in reply.error["message"]
        assert "route 'free'" in reply.error["message"]
    assert upstream.received == []


def test_fields_that_cannot_bill_pass(free_routes, upstream):
    free_routes()
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    fields = {"tools": tools, "tool_choice": "auto", "response_format": {"type": "json_object"}, "top_p": 0.5}
    reply = call("POST", "/v1/chat/completions", {"model": "free", "messages": HI, **fields})
    assert reply.status == 200
    assert {name: upstream.received[0].body[name] for name in fields} == fields


def test_a_routes_pass_fields_allow_a_field(free_routes, upstream):
    # Given a route that lists "plugins" in its pass_fields
    free_routes(pass_fields='pass_fields = ["plugins"]')
    # Then a request with plugins is served there, plugins and all
    reply = call(
        "POST", "/v1/chat/completions", {"model": "free", "messages": HI, "plugins": [{"id": "web"}]}
    )
    assert reply.status == 200 and upstream.received[0].body["plugins"] == [{"id": "web"}]


def test_a_fallback_that_may_not_receive_a_field_is_skipped(free_routes, gateway_env, upstream):
    # Given "free", which passes plugins, failing, and its fallback "open", which does not pass them
    gateway_env.setenv("AI_MODEL_MAX_RETRIES", "0")
    free_routes(pass_fields='pass_fields = ["plugins"]')
    upstream.then(Behaviour(503, {}))
    # When a request with plugins is sent to "free"
    reply = call(
        "POST", "/v1/chat/completions", {"model": "free", "messages": HI, "plugins": [{"id": "web"}]}
    )
    # Then it fails with "free" and is never sent to "open"
    assert reply.status == 502
    assert {sent.body["model"] for sent in upstream.received} == {"openrouter/auto"}
    # And "open" takes what it passes, chosen directly
    assert (
        call("POST", "/v1/chat/completions", {"model": "open", "messages": HI, "reasoning": {}}).status == 200
    )


def test_without_zero_cost_every_field_passes(free_routes, upstream):
    free_routes(zero_cost=False)
    reply = call(
        "POST", "/v1/chat/completions", {"model": "free", "messages": HI, "plugins": [{"id": "web"}]}
    )
    assert reply.status == 200 and upstream.received[0].body["plugins"] == [{"id": "web"}]


class TestUpstreamModelHeader:
    def test_a_whole_answer_names_the_model_the_provider_says_answered(self, free_routes, upstream):
        # Given a router model that picked another model to answer
        free_routes()
        upstream.then(Behaviour(body=completion(model="anthropic/claude-3.5-sonnet")))
        # When it answers
        reply = call("POST", "/v1/chat/completions", {"model": "free", "messages": HI})
        # Then the reply's model is the route, and the header the model that answered
        assert reply.json["model"] == "free"
        assert reply.headers["x-modelgate-upstream-model"] == "anthropic/claude-3.5-sonnet"

    def test_a_stream_names_it_from_its_first_chunk(self, free_routes, upstream):
        import handler

        free_routes()
        with serving(handler.wsgi_app) as url:
            body = {"model": "free", "messages": HI, "stream": True}
            reply = requests.post(f"{url}/v1/chat/completions", json=body, timeout=10)
        assert reply.status_code == 200 and reply.text.endswith("data: [DONE]\n\n")
        assert reply.headers["x-modelgate-upstream-model"] == "openrouter/auto"  # what the fake's chunks say

    def test_no_header_when_no_name_fits_one(self, gateway_env, upstream):
        import handler

        # Given single-model mode, where the caller's model is passed on and the fake echoes it
        model = "m\u009f\U000c1738"  # found by make fuzz: no HTTP header can carry it (it was a 500)
        with serving(handler.wsgi_app) as url:
            reply = requests.post(f"{url}/api/generate", json={"prompt": "hi", "model": model}, timeout=10)
        # Then the answer is served, without the header
        assert reply.status_code == 200 and "x-modelgate-upstream-model" not in reply.headers

    def test_a_model_name_no_header_can_carry_gives_the_model_asked_for(self, free_routes, upstream):
        free_routes()
        upstream.then(Behaviour(body=completion(model="evil\r\nSet-Cookie: x=1")))
        reply = call("POST", "/v1/chat/completions", {"model": "free", "messages": HI})
        assert reply.headers["x-modelgate-upstream-model"] == "openrouter/auto"

    def test_a_first_chunk_that_breaks_still_ends_the_stream_with_its_error_event(
        self, free_routes, upstream
    ):
        # Given a legacy completion stream whose very first chunk is not JSON (read early for the header)
        free_routes()
        upstream.then(Behaviour(words=("a", " b"), stream_garbage_after=0))
        # When it is streamed
        reply = call("POST", "/v1/completions", {"model": "free", "prompt": "hi", "stream": True})
        # Then the stream ends with the format's error event, as a fault later in the stream would
        assert reply.status == 200 and '"code": "upstream_stream_malformed"' in reply.text.replace(
            '":', '": '
        )
        assert "[DONE]" not in reply.text
        assert reply.headers["x-modelgate-upstream-model"] == "openrouter/auto"  # the model asked for

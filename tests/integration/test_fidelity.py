"""Nothing lost between model and caller: an OpenAI-compatible API's answers (every documented field:
tests/support/every_field.py) fetched directly and through the gateway, compared field by field, whole
and streamed, for chat and legacy completions. Through the gateway only `model` differs (the route's
public name); a field no document names passes too, as sent."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from lib import services
from tests.conftest import call
from tests.support import every_field
from tests.support.every_field import events_of, sse
from tests.support.fake_upstream import Behaviour

ROUTES = """
[[route]]
name = "general"
provider = "openai"
endpoint = "{upstream}"
model = "gpt-x"
key = "env:GENERAL_KEY"
"""
EVENT_STREAM = {"Content-Type": "text/event-stream"}
KINDS = {
    "chat": ("/chat/completions", every_field.chat_answer, every_field.chat_chunks),
    "completion": ("/completions", every_field.completion_answer, every_field.completion_chunks),
}


@pytest.fixture
def routed(gateway_env, upstream, tmp_path):
    routes = tmp_path / "routes.toml"
    routes.write_text(ROUTES.format(upstream=upstream.base_url), encoding="utf-8")
    gateway_env.setenv("ROUTES_FILE", str(routes))
    gateway_env.setenv("GENERAL_KEY", "sk-general-route-key-0123456789")
    services.reset()


def request_body(kind: str, **fields: Any) -> dict[str, Any]:
    asked = {"messages": [{"role": "user", "content": "Hello"}]} if kind == "chat" else {"prompt": "Hello"}
    return {"model": "general", **asked, **fields}


def as_the_gateway_passes_it(value: Any) -> Any:
    """`value` as sent, `model` the route's public name."""
    if isinstance(value, dict):
        kept = {name: as_the_gateway_passes_it(child) for name, child in value.items()}
        return {**kept, "model": "general"} if "model" in kept else kept
    if isinstance(value, list):
        return [as_the_gateway_passes_it(item) for item in value]
    return value


def assert_field_by_field(through: Any, expected: Any, where: str = "") -> None:
    """Equal values, and objects with the same fields in the same order, at every level."""
    if isinstance(expected, dict):
        assert isinstance(through, dict) and list(through) == list(expected), (
            f"fields of {where or 'the top'}"
        )
        for name in expected:
            assert_field_by_field(through[name], expected[name], f"{where}.{name}")
    elif isinstance(expected, list):
        assert isinstance(through, list) and len(through) == len(expected), f"items of {where}"
        for index, (got, wanted) in enumerate(zip(through, expected, strict=True)):
            assert_field_by_field(got, wanted, f"{where}[{index}]")
    else:
        assert through == expected and type(through) is type(expected), where


@pytest.mark.usefixtures("routed")
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_whole_answer_keeps_every_documented_field(kind, upstream):
    path, answer, _ = KINDS[kind]
    # Given the provider's answer, fetched directly
    upstream.then(Behaviour(body=answer()), Behaviour(body=answer()))
    direct = requests.post(f"{upstream.base_url}{path}", json=request_body(kind), timeout=10).json()
    # When the same answer comes through the gateway
    through = call("POST", f"/v1{path}", request_body(kind))
    # Then every field arrives as sent, in its order, at every level
    assert through.status == 200, through.text
    assert_field_by_field(through.json, as_the_gateway_passes_it(direct))


@pytest.mark.usefixtures("routed")
@pytest.mark.parametrize("include_usage", [True, False])
@pytest.mark.parametrize("kind", list(KINDS))
def test_every_chunk_of_a_stream_keeps_every_field(kind, include_usage, upstream, output):
    path, _, chunks = KINDS[kind]
    options = {"stream": True, "stream_options": {"include_usage": include_usage}}
    # Given the provider's stream fetched directly, as the caller asks for it
    upstream.then(Behaviour(parts=sse(chunks(include_usage)), headers=EVENT_STREAM))
    direct = requests.post(f"{upstream.base_url}{path}", json=request_body(kind, **options), timeout=10)
    # When the caller asks the gateway (which always asks the provider for usage: budgets need it)
    upstream.then(Behaviour(parts=sse(chunks(True)), headers=EVENT_STREAM))
    through = call("POST", f"/v1{path}", request_body(kind, **options))
    # Then every chunk arrives in order with every documented field as sent (usage as the caller asked)
    assert through.status == 200, through.text
    assert_field_by_field(events_of(through.text), as_the_gateway_passes_it(events_of(direct.text)))
    assert upstream.received[-1].body["stream_options"] == {"include_usage": True}
    # And the gateway still read the provider's usage from the chunks it passed on
    access = next(line for line in output.access_lines() if line["route"] == f"POST /v1{path}")
    assert access["charged_tokens"] == every_field.USAGE["total_tokens"]

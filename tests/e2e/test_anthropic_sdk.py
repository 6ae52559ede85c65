"""The official `anthropic` SDK as a real client, over HTTP, against the gateway served like `make run`,
in front of an `openai`, an `anthropic` and a `bedrock` route (loopback servers, each in its provider's
own wire format): create, stream, a tool round trip, structured output, errors as the SDK's classes."""

import json

import pytest

from lib import services
from lib.apis.anthropic_messages import parse_messages
from lib.platform.config import load_settings
from local.server import serving
from tests.support import claude_code, three_providers
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.fake_upstream import FakeUpstream
from tests.support.three_providers import BEDROCK_MODEL_ID, KEYS, ROUTES, ROUTES_FILE

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
HI = [{"role": "user", "content": "Hi"}]


@pytest.fixture(scope="module")
def model_servers():
    """One loopback server per provider, started once for the module (each test clears them)."""
    started = {"openai": FakeUpstream(), "anthropic": FakeAnthropic(), "bedrock": FakeUpstream()}
    yield {provider: server.start() for provider, server in started.items()}
    for server in started.values():
        server.stop()


@pytest.fixture(scope="module")
def served():
    """The gateway as `make run` serves it, for the module; each test configures it (services.reset)."""
    import handler

    with serving(handler.wsgi_app) as url:
        yield url


@pytest.fixture
def servers(model_servers):
    for server in model_servers.values():
        server.queue.clear()
        server.received.clear()
    return model_servers


@pytest.fixture
def gateway(gateway_env, servers, served, tmp_path):
    routes = tmp_path / "routes.toml"
    routes.write_text(
        ROUTES_FILE.format(
            openai=servers["openai"].base_url,
            anthropic=servers["anthropic"].base_url,
            bedrock_model=BEDROCK_MODEL_ID,
        ),
        encoding="utf-8",
    )
    gateway_env.setenv("ROUTES_FILE", str(routes))
    for name, key in KEYS.items():
        gateway_env.setenv(name, key)
    gateway_env.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", servers["bedrock"].base_url.removesuffix("/v1"))
    gateway_env.setenv("AI_MODEL_MAX_RETRIES", "0")
    # What a coding agent's requests need: its system prompt and tools are long, its output allowance large.
    gateway_env.setenv("MAX_TOKENS_LIMIT", "32000")
    gateway_env.setenv("MAX_PROMPT_CHARS", "100000")
    gateway_env.setenv("MAX_INPUT_CHARS", "200000")
    services.reset()
    return served


@pytest.fixture(scope="module")
def sdk():
    """Anthropic's SDK, imported when a test of this module runs: importing it at collection cost every
    xdist worker a second of CPU, three of them for nothing."""
    import anthropic

    return anthropic


@pytest.fixture
def client(gateway, sdk):
    return sdk.Anthropic(
        base_url=gateway, api_key="mg-not-checked-in-auth-mode-none", max_retries=0, timeout=10
    )


@pytest.fixture(params=sorted(ROUTES))
def route(request, servers):
    """A route name; `route.server` is its provider's loopback server, `route.provider` its wire format."""
    return Route(request.param, ROUTES[request.param], servers[ROUTES[request.param]])


class Route(str):
    def __new__(cls, name, provider, server):
        route = super().__new__(cls, name)
        route.provider, route.server = provider, server
        return route


def test_create(client, route):
    # Given the route's provider answering "Hello there"
    route.server.then(
        three_providers.text(route.provider, ("Hello", " there"), input_tokens=12, output_tokens=5)
    )

    # When the SDK creates a message
    message = client.messages.create(model=route, max_tokens=64, messages=HI, system="Be brief.")

    # Then it is Anthropic's message object, named after the route, with the provider's usage
    assert message.type == "message" and message.role == "assistant" and message.model == route
    assert message.content[0].type == "text" and message.content[0].text == "Hello there"
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 5)


def test_stream(client, route):
    # Given the route's provider streaming three words
    route.server.then(three_providers.text_streamed(route.provider, ("Hel", "lo", " there"), 25, 15))

    # When the SDK streams a message
    with client.messages.stream(model=route, max_tokens=64, messages=HI) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()

    # Then the SDK put together the text, the stop reason and the usage from Anthropic's events
    assert text == "Hello there"
    assert final.model == route and final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (25, 15)


def test_a_tool_round_trip(client, route):
    # Given the provider calling get_weather, then answering from its result
    route.server.then(
        three_providers.tool_call(route.provider, "toolu_01", "get_weather", {"city": "Oslo"}),
        three_providers.text(route.provider, ("It is sunny.",)),
    )

    # When the SDK asks, runs the tool and sends its result back
    asked = [{"role": "user", "content": "Weather in Oslo?"}]
    first = client.messages.create(model=route, max_tokens=64, messages=asked, tools=[WEATHER_TOOL])
    call = next(block for block in first.content if block.type == "tool_use")
    result = {"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 21 C"}
    second = client.messages.create(
        model=route,
        max_tokens=64,
        tools=[WEATHER_TOOL],
        messages=[
            *asked,
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [result]},
        ],
    )

    # Then the call came back as a tool_use block, and the answer after it as text
    assert first.stop_reason == "tool_use" and (call.id, call.name, call.input) == (
        "toolu_01",
        "get_weather",
        {"city": "Oslo"},
    )
    assert second.content[0].text == "It is sunny."
    # ... and the provider received the result in its own wire format
    sent = route.server.received[1].body
    assert "sunny, 21 C" in str(sent) and "toolu_01" in str(sent)


def test_a_streamed_tool_call(client, route):
    route.server.then(
        three_providers.tool_call_streamed(route.provider, "toolu_02", "get_weather", {"city": "Bergen"})
    )

    with client.messages.stream(
        model=route, max_tokens=64, messages=[{"role": "user", "content": "Bergen?"}], tools=[WEATHER_TOOL]
    ) as stream:
        final = stream.get_final_message()

    (call,) = [block for block in final.content if block.type == "tool_use"]
    assert (call.id, call.name, call.input) == ("toolu_02", "get_weather", {"city": "Bergen"})
    assert final.stop_reason == "tool_use"


def test_structured_output_by_forcing_a_tool(client, route):
    # Given a schema as the one tool, and the provider filling it in
    record = {
        "name": "record_person",
        "input_schema": {"type": "object", "properties": {"name": {"type": "string"}}},
    }
    route.server.then(three_providers.tool_call(route.provider, "toolu_03", "record_person", {"name": "Ada"}))

    # When the SDK forces that tool
    message = client.messages.create(
        model=route,
        max_tokens=64,
        messages=[{"role": "user", "content": "Ada Lovelace wrote the first program."}],
        tools=[record],
        tool_choice={"type": "tool", "name": "record_person"},
    )

    # Then the JSON comes back as the tool's input, and the provider was told to use that tool
    assert message.content[-1].input == {"name": "Ada"}
    sent = route.server.received[0].body
    forced = {
        "openai": lambda: sent["tool_choice"] == {"type": "function", "function": {"name": "record_person"}},
        "anthropic": lambda: sent["tool_choice"] == {"type": "tool", "name": "record_person"},
        "bedrock": lambda: sent["toolConfig"]["toolChoice"] == {"tool": {"name": "record_person"}},
    }
    assert forced[route.provider]()


def test_structured_output_by_output_config(client, route):
    # Given the provider answering in JSON
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}},
        "required": ["name"],
        "additionalProperties": False,
    }
    route.server.then(three_providers.text(route.provider, ('{"name": "Ada"}',)))

    # When the SDK asks for a JSON schema with output_config
    message = client.messages.create(
        model=route,
        max_tokens=64,
        messages=[{"role": "user", "content": "Ada Lovelace wrote the first program."}],
        output_config={"format": {"type": "json_schema", "schema": schema}},
    )

    # Then the text is the JSON, and each provider was sent the schema in its own terms
    assert message.content[0].text == '{"name": "Ada"}'
    sent = route.server.received[0].body
    converse_format = sent.get("outputConfig", {}).get("textFormat", {})
    schema_sent = {
        "openai": lambda: sent["response_format"]["json_schema"]["schema"],
        "anthropic": lambda: sent["output_config"]["format"]["schema"],
        "bedrock": lambda: json.loads(converse_format["structure"]["jsonSchema"]["schema"]),
    }
    assert schema_sent[route.provider]() == schema


def test_a_failing_provider_raises_internal_server_error(client, route, sdk):
    route.server.then(*three_providers.failing(route.provider))

    with pytest.raises(sdk.InternalServerError) as raised:
        client.messages.create(model=route, max_tokens=64, messages=HI)

    assert raised.value.status_code == 502
    assert raised.value.body["type"] == "error" and raised.value.body["error"]["type"] == "api_error"


def test_bad_input_raises_bad_request_error(client, sdk):
    with pytest.raises(sdk.BadRequestError) as raised:
        client.messages.create(model="gpt", max_tokens=64, messages=HI, temperature=1.5)

    assert raised.value.body == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "temperature must be a number from 0 to 1"},
    }


def test_a_field_the_route_cannot_take_is_a_400_naming_it(client, servers, sdk):
    with pytest.raises(sdk.BadRequestError) as raised:
        client.messages.create(model="nova", max_tokens=64, messages=HI, top_k=5)

    assert "top_k" in raised.value.message and "nova" in raised.value.message
    assert servers["bedrock"].received == []


def test_models_in_anthropic_shape(client, sdk):
    assert [model.id for model in client.models.list()] == ["gpt", "claude", "nova"]
    assert client.models.retrieve("claude").display_name == "claude"
    with pytest.raises(sdk.NotFoundError) as raised:
        client.models.retrieve("no-such-model")
    assert raised.value.body["error"]["type"] == "not_found_error"


def test_count_tokens_is_what_the_budget_reserves_for_the_input(client, servers):
    # Given a request with a system prompt and a tool
    asked = {"model": "claude", "system": "Be brief.", "messages": HI, "tools": [WEATHER_TOOL]}

    # When the SDK counts its tokens
    counted = client.messages.count_tokens(**asked)

    # Then the count is what creating it would reserve, less its output allowance, and no model was asked
    created = parse_messages({**asked, "max_tokens": 64}, load_settings({"AUTH_MODE": "none"}), {})
    assert counted.input_tokens == created.reserved_tokens - 64 > len("Be brief.Hi")
    assert all(server.received == [] for server in servers.values())


def test_a_request_shaped_like_claude_code_s(client, route):
    # Given the route's provider streaming an answer
    route.server.then(
        three_providers.text_streamed(route.provider, ("The", " assertion", " is", " wrong."), 900, 12)
    )
    body = claude_code.request(route)

    # When the SDK sends what Claude Code sends: beta flags, cached system blocks, a dozen tools, a stream
    with client.beta.messages.create(**body, betas=claude_code.BETAS) as stream:
        events = list(stream)

    # Then the answer streams back in Anthropic's events
    assert (
        "".join(e.delta.text for e in events if e.type == "content_block_delta") == "The assertion is wrong."
    )
    assert events[-2].type == "message_delta" and events[-2].usage.output_tokens == 12
    sent = route.server.received[0]
    if route.provider == "anthropic":
        # ... passed through as it came but for the gateway's fields, beta flags included
        expected = {**body, "model": "claude-sonnet-4-5", "temperature": 0.9}  # TEMPERATURE_POLICY=clamp
        assert sent.body == expected
        assert sent.headers["anthropic-beta"] == ",".join(claude_code.BETAS)
    elif route.provider == "openai":
        # ... translated: one system message, a user message of two text parts, twelve function tools
        assert [message["role"] for message in sent.body["messages"]] == ["system", "user"]
        assert len(sent.body["tools"]) == 12 and sent.body["tools"][0]["type"] == "function"
        assert sent.body["user"] == body["metadata"]["user_id"] and sent.body["stream"] is True
    else:
        assert len(sent.body["toolConfig"]["tools"]) == 12 and len(sent.body["system"]) == 1

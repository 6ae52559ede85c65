"""The official `openai` SDK's Responses API, over HTTP, against the gateway served like `make run`, through
an openai route (chat completions upstream), an anthropic route, a bedrock route and an openai route
that passes Responses requests through (each a loopback server in its provider's own wire format)."""

import json
import os

import openai
import pytest
from pydantic import BaseModel

from lib import services
from lib.apis.openai_responses import neutral_request, parse_responses
from lib.platform.config import load_settings
from local.aws import create_table
from local.server import serving
from tests.conftest import _GATEWAY_VARIABLES as GATEWAY_VARIABLES
from tests.conftest import TABLE_NAME
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.fake_responses import FakeResponsesAPI
from tests.support.fake_upstream import Behaviour, FakeUpstream
from tests.support.model_wires import Anthropic, BedrockConverse, OpenAIChat, OpenAIResponses

ROUTES = """
default = "gpt"

[[route]]
name = "gpt"
provider = "openai"
endpoint = "{gpt}"
model = "gpt-4o-mini"
key = "env:OPENAI_KEY"

[[route]]
name = "claude"
provider = "anthropic"
endpoint = "{claude}"
model = "claude-sonnet-4-5"
key = "env:ANTHROPIC_KEY"

[[route]]
name = "nova"
provider = "bedrock"
model = "us.amazon.nova-lite-v1:0"

[[route]]
name = "gpt-native"
provider = "openai"
endpoint = "{native}"
model = "gpt-5-mini"
key = "env:OPENAI_KEY"
apis = ["responses"]
"""
STACK_ENV = {
    "AUTH_MODE": "none",
    "OPENAI_KEY": "sk-openai-route-key-0123456789",
    "ANTHROPIC_KEY": "sk-ant-route-key-0123456789",
    "AI_MODEL_MAX_RETRIES": "0",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "DAILY_TOKEN_BUDGET": "1000000",
    "RATE_LIMIT_RPM": "100000",
}
WIRES = {
    "gpt": OpenAIChat(),
    "claude": Anthropic(),
    "nova": BedrockConverse(),
    "gpt-native": OpenAIResponses(),
}
TRANSLATED = ["gpt", "claude", "nova"]
EVERY_ROUTE = [*TRANSLATED, "gpt-native"]
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city now.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One gateway (and embedded AWS) for the module, in front of one loopback server per provider."""
    import boto3
    from moto import mock_aws

    import handler

    servers = {
        "gpt": FakeUpstream().start(),
        "claude": FakeAnthropic().start(),
        "nova": FakeUpstream().start(),
        "gpt-native": FakeResponsesAPI().start(),
    }
    routes = tmp_path_factory.mktemp("routes") / "routes.toml"
    urls = {name: server.base_url for name, server in servers.items()}
    routes.write_text(ROUTES.format(gpt=urls["gpt"], claude=urls["claude"], native=urls["gpt-native"]))
    with pytest.MonkeyPatch.context() as env, mock_aws():
        for name in list(os.environ):
            if name.startswith(GATEWAY_VARIABLES):
                env.delenv(name)
        create_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE_NAME)
        stack_env = {**STACK_ENV, "ROUTES_FILE": str(routes), "TABLE_NAME": TABLE_NAME}
        stack_env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = urls["nova"].removesuffix("/v1")
        for name, value in stack_env.items():
            env.setenv(name, value)
        services.reset()
        with serving(handler.wsgi_app) as url:
            yield (
                servers,
                openai.OpenAI(
                    base_url=f"{url}/v1",
                    api_key="mg-not-checked-in-auth-mode-none",
                    max_retries=0,
                    _strict_response_validation=True,
                ),
            )
        services.reset()
    for server in servers.values():
        server.stop()


@pytest.fixture
def servers(stack):
    servers, _ = stack
    for server in servers.values():
        server.queue.clear()
        server.received.clear()
    return servers


@pytest.fixture
def client(stack, servers):
    return stack[1]


def sent(servers, route, turn=-1):
    """What the route's provider was sent, as text (each wire format spells a conversation its own way)."""
    return json.dumps(servers[route].received[turn].body)


@pytest.mark.parametrize("route", EVERY_ROUTE)
def test_create(client, servers, route):
    # Given the route's model answers a greeting
    servers[route].then(WIRES[route].text("Hello there."))

    # When the SDK creates a response with instructions and metadata
    response = client.responses.create(
        model=route, input="Hi", instructions="Be brief.", max_output_tokens=50, metadata={"ticket": "7"}
    )

    # Then it reads the answer, the route's public name, the usage and what it asked for back
    assert response.output_text == "Hello there." and response.status == "completed"
    assert response.model == route and response.store is True and response.metadata == {"ticket": "7"}
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (
        11,
        4,
        15,
    )
    assert "Be brief." in sent(servers, route) and '"Hi"' in sent(servers, route)


@pytest.mark.parametrize("route", EVERY_ROUTE)
def test_stream(client, servers, route):
    # Given the route's model streams two words
    servers[route].then(WIRES[route].stream_text("Hello", " there"))

    # When the SDK streams the response
    with client.responses.stream(model=route, input="Hi") as stream:
        events = list(stream)
        final = stream.get_final_response()

    # Then the events are the Responses sequence, numbered from 0, and the final response is whole
    kinds = [event.type for event in events]
    assert kinds[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert kinds[-2:] == ["response.output_item.done", "response.completed"]
    assert "response.output_text.delta" in kinds and "response.output_text.done" in kinds
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert final.output_text == "Hello there" and final.model == route and final.usage.total_tokens > 0


@pytest.mark.parametrize("route", EVERY_ROUTE)
def test_a_tool_round_trip(client, servers, route):
    # Given the model calls a tool, then answers from its result
    wire = WIRES[route]
    servers[route].then(wire.tool_call("call_7", "get_weather", {"city": "Paris"}), wire.text("Sunny, 21 C."))

    # When the SDK sends the tool's output back on the stored conversation
    first = client.responses.create(model=route, input="Weather in Paris?", tools=[WEATHER_TOOL])
    call = next(item for item in first.output if item.type == "function_call")
    second = client.responses.create(
        model=route,
        previous_response_id=first.id,
        tools=[WEATHER_TOOL],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": '{"temp_c": 21}'}],
    )

    # Then the call came as a function_call item, and the model was sent the call and its result
    assert (call.name, json.loads(call.arguments), call.call_id) == (
        "get_weather",
        {"city": "Paris"},
        "call_7",
    )
    assert second.output_text == "Sunny, 21 C." and second.previous_response_id == first.id
    assert all(text in sent(servers, route) for text in ("Weather in Paris?", "call_7", "temp_c"))


@pytest.mark.parametrize("route", EVERY_ROUTE)
def test_a_streamed_tool_call(client, servers, route):
    servers[route].then(WIRES[route].stream_tool_call("call_8", "get_weather", {"city": "Oslo"}))

    with client.responses.stream(model=route, input="Weather in Oslo?", tools=[WEATHER_TOOL]) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()

    call = next(item for item in final.output if item.type == "function_call")
    assert json.loads(call.arguments) == {"city": "Oslo"} and call.call_id == "call_8"
    assert (
        "response.function_call_arguments.delta" in kinds and "response.function_call_arguments.done" in kinds
    )


class Weather(BaseModel):
    city: str
    temperature_c: int


def schema_sent(servers, route):
    """The JSON schema the route's provider was told to answer in, read from its own wire format."""
    body = servers[route].received[-1].body
    if route == "claude":  # Anthropic's structured outputs
        return body["output_config"]["format"]["schema"]
    if route == "nova":  # Converse's outputConfig, the schema as JSON text
        return json.loads(body["outputConfig"]["textFormat"]["structure"]["jsonSchema"]["schema"])
    text = body["text"] if route == "gpt-native" else body["response_format"]
    return (text["format"] if route == "gpt-native" else text["json_schema"])["schema"]


@pytest.mark.parametrize("route", EVERY_ROUTE)
def test_structured_output(client, servers, route):
    # Given the route's model answers in JSON
    servers[route].then(WIRES[route].text('{"city": "Paris", "temperature_c": 21}'))

    # When the SDK asks for a pydantic model's schema
    parsed = client.responses.parse(model=route, input="Weather in Paris, as JSON", text_format=Weather)

    # Then the answer parses, and the provider was sent the schema in its own terms
    assert parsed.output_parsed == Weather(city="Paris", temperature_c=21)
    assert schema_sent(servers, route)["required"] == ["city", "temperature_c"]


@pytest.mark.parametrize("route", ["claude", "nova"])
def test_structured_output_streamed(client, servers, route):
    servers[route].then(WIRES[route].stream_text('{"city": "Oslo", ', '"temperature_c": 4}'))

    question = "Weather in Oslo, as JSON"
    with client.responses.stream(model=route, input=question, text_format=Weather) as stream:
        final = stream.get_final_response()

    assert final.output_parsed == Weather(city="Oslo", temperature_c=4)
    assert schema_sent(servers, route)["properties"]["city"] == {"title": "City", "type": "string"}


@pytest.mark.parametrize("route", ["claude", "nova"])
@pytest.mark.parametrize("streamed", [False, True])
def test_json_mode_where_the_provider_has_none_is_a_forced_tool_call_read_back_as_text(
    client, servers, route, streamed
):
    # Given a provider with no JSON mode, answering by calling the tool the gateway made it call
    wire = WIRES[route]
    answer = wire.stream_tool_call if streamed else wire.tool_call
    servers[route].then(answer("call_9", "json_answer", {"city": "Paris", "temperature_c": 21}))

    # When the SDK asks for JSON without a schema
    fields = {"model": route, "input": "Paris, as JSON", "text": {"format": {"type": "json_object"}}}
    if streamed:
        with client.responses.stream(**fields) as stream:
            response = stream.get_final_response()
    else:
        response = client.responses.create(**fields)

    # Then the JSON is the answer's text, no function call reaches the caller, and the echo is JSON mode
    assert json.loads(response.output_text) == {"city": "Paris", "temperature_c": 21}
    assert [item.type for item in response.output] == ["message"] and response.status == "completed"
    assert response.text.format.type == "json_object"
    assert "json_answer" in sent(servers, route)


def test_errors_are_the_sdks_classes(client, servers):
    with pytest.raises(openai.BadRequestError) as bad:
        client.responses.create(model="gpt", input="Hi", temperature=3)
    with pytest.raises(openai.BadRequestError) as hosted:
        client.responses.create(model="claude", input="Hi", tools=[{"type": "web_search"}])
    with pytest.raises(openai.BadRequestError) as unknown_previous:
        client.responses.create(model="gpt", input="Hi", previous_response_id="resp_" + "0" * 40)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve("resp_677efb5139a88190b512bc3fef8e535d")
    servers["claude"].then(*[Behaviour(529, {"type": "error", "error": {"type": "overloaded_error"}})] * 2)
    with pytest.raises(openai.InternalServerError) as upstream_failed:
        client.responses.create(model="claude", input="Hi")

    assert bad.value.body["param"] == "temperature"
    assert hosted.value.body["param"] == "tools[0]" and "web_search" in hosted.value.body["message"]
    assert unknown_previous.value.body["code"] == "previous_response_not_found"
    assert upstream_failed.value.status_code == 502


@pytest.mark.parametrize("route", EVERY_ROUTE)
def test_input_tokens_count_is_what_the_budget_reserves_for_the_input(client, servers, route):
    # Given a request with instructions and a tool
    asked = {"model": route, "instructions": "Be brief.", "input": "Hi", "tools": [WEATHER_TOOL]}

    # When the SDK counts its input tokens
    counted = client.responses.input_tokens.count(**asked)

    # Then the count is what creating it would reserve, less its output allowance, and no model was asked
    settings = load_settings({"AUTH_MODE": "none"})
    created, _ = neutral_request(parse_responses({**asked, "max_output_tokens": 64}, settings), [], settings)
    assert counted.object == "response.input_tokens"
    assert counted.input_tokens == created.reserved_tokens - 64 > len("Be brief.Hi")
    assert all(server.received == [] for server in servers.values())


def test_input_tokens_of_a_continued_conversation_count_its_stored_turns(client, servers):
    # Given a stored first turn
    servers["gpt"].then(WIRES["gpt"].text("Hello Ada."))
    first = client.responses.create(model="gpt", input="My name is Ada.")

    # When the SDK counts a turn that continues it, the same conversation spelled out, and the turn alone
    continued = client.responses.input_tokens.count(
        model="gpt", previous_response_id=first.id, input="What is my name?"
    )
    spelled_out = client.responses.input_tokens.count(
        model="gpt",
        input=[
            {"role": "user", "content": "My name is Ada."},
            {"role": "assistant", "content": "Hello Ada."},
            {"role": "user", "content": "What is my name?"},
        ],
    )
    alone = client.responses.input_tokens.count(model="gpt", input="What is my name?")

    # Then the continued turn counts the stored conversation, and only the first turn asked the model
    assert continued.input_tokens == spelled_out.input_tokens > alone.input_tokens
    assert len(servers["gpt"].received) == 1


def test_input_tokens_count_refuses_what_create_refuses_as_the_sdks_classes(client, servers):
    # When the SDK counts requests that creating would refuse
    refusals = {
        "blocked": {"model": "gpt", "input": "我的密码是什么"},
        "too long": {"model": "gpt", "input": "x" * 5000},
        "hosted tool": {"model": "claude", "input": "Hi", "tools": [{"type": "web_search"}]},
        "unknown previous": {"model": "gpt", "input": "Hi", "previous_response_id": "resp_" + "0" * 40},
        "conversation": {"model": "gpt", "input": "Hi", "conversation": "conv_1"},
        "no input": {"model": "gpt"},
    }
    errors = {}
    for name, body in refusals.items():
        with pytest.raises(openai.APIStatusError) as refused:
            client.responses.input_tokens.count(**body)
        errors[name] = (type(refused.value).__name__, refused.value.body["code"], refused.value.body["param"])

    # Then each is the 4xx that creating it answers, and no model was asked
    assert errors == {
        "blocked": ("BadRequestError", "content_blocked", "input"),
        "too long": ("BadRequestError", "prompt_too_long", "input"),
        "hosted tool": ("BadRequestError", "unsupported_parameter", "tools[0]"),
        "unknown previous": ("BadRequestError", "previous_response_not_found", "previous_response_id"),
        "conversation": ("BadRequestError", "unsupported_parameter", "conversation"),
        "no input": ("BadRequestError", "missing_prompt", "input"),
    }
    assert all(server.received == [] for server in servers.values())


@pytest.mark.parametrize("route", EVERY_ROUTE)
def test_a_chain_of_three_turns_then_retrieve_input_items_and_delete(client, servers, route):
    # Given three answers
    wire = WIRES[route]
    servers[route].then(wire.text("Hello Ada."), wire.text("Your name is Ada."), wire.text("Three turns."))

    # When each turn continues the one before
    one = client.responses.create(model=route, input="My name is Ada.")
    two = client.responses.create(model=route, previous_response_id=one.id, input="What is my name?")
    three = client.responses.create(
        model=route,
        previous_response_id=two.id,
        input=[{"role": "user", "content": [{"type": "input_text", "text": "Count the turns."}]}],
    )

    # Then the third call sent the whole conversation, in order
    conversation = sent(servers, route)
    said = ["My name is Ada.", "Hello Ada.", "What is my name?", "Your name is Ada.", "Count the turns."]
    assert [conversation.index(text) for text in said] == sorted(conversation.index(text) for text in said)
    # And the third response can be retrieved, its input listed, and deleted (then it is gone)
    assert client.responses.retrieve(three.id).output_text == "Three turns."
    items = list(client.responses.input_items.list(three.id))
    assert [(item.type, item.role, item.content[0].text) for item in items] == [
        ("message", "user", "Count the turns.")
    ]
    client.responses.delete(three.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(three.id)
    # And the turn before it still holds its own branch
    assert client.responses.retrieve(two.id).previous_response_id == one.id


CODEX_INSTRUCTIONS = (
    "You are a coding agent running in the Codex CLI, a terminal-based coding assistant. "
    "Use the shell tool to inspect the workspace and apply_patch to edit files. Keep going until the "
    "user's query is completely resolved."
)
CODEX_TOOLS = [
    {
        "type": "function",
        "name": "shell",
        "description": "Runs a shell command and returns its output.",
        "strict": False,
        "parameters": {
            "type": "object",
            "properties": {
                "command": {"type": "array", "items": {"type": "string"}},
                "workdir": {"type": "string"},
                "timeout_ms": {"type": "number"},
            },
            "required": ["command"],
            "additionalProperties": False,
        },
    },
    {
        "type": "function",
        "name": "update_plan",
        "description": "Updates the task plan.",
        "strict": False,
        "parameters": {
            "type": "object",
            "properties": {
                "explanation": {"type": "string"},
                "plan": {"type": "array", "items": {"type": "object"}},
            },
            "required": ["plan"],
            "additionalProperties": False,
        },
    },
]


def codex_request(route, input_items):
    """A turn as Codex sends it (codex-rs ResponsesApiRequest): the whole history each time, store: false."""
    return {
        "model": route,
        "instructions": CODEX_INSTRUCTIONS,
        "input": input_items,
        "tools": CODEX_TOOLS,
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0199a3b2-codex-session",
        "text": {"verbosity": "medium"},
    }


@pytest.mark.parametrize("route", EVERY_ROUTE)
def test_a_request_shaped_like_codexs_is_served(client, servers, route):
    # Given the model first runs a command, then answers
    wire = WIRES[route]
    servers[route].then(
        wire.stream_tool_call("call_ls", "shell", {"command": ["ls"]}), wire.stream_text("Two", " files.")
    )
    history = [
        {
            "type": "message",
            "role": "developer",
            "content": [
                {"type": "input_text", "text": "<environment_context>cwd=/repo</environment_context>"}
            ],
        },
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "What is in this repo?"}],
        },
    ]

    # When Codex sends its first turn, then the whole history with the command's output
    with client.responses.create(**codex_request(route, history)) as stream:
        first = [event for event in stream if event.type == "response.output_item.done"]
    call = first[-1].item
    history += [
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAA-opaque"},
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "README.md\nsrc"},
    ]
    with client.responses.create(**codex_request(route, history)) as stream:
        done = [event for event in stream if event.type == "response.completed"]

    # Then both turns stream to their end, nothing is stored, and the model saw the command's output
    assert call.name == "shell" and json.loads(call.arguments) == {"command": ["ls"]}
    assert done[0].response.output_text == "Two files." and done[0].response.store is False
    assert "README.md" in sent(servers, route) and "cwd=/repo" in sent(servers, route)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(done[0].response.id)

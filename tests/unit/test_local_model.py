"""The built-in local model behaves like a capable model as far as a client can check (tool calls,
structured output, logprobs, images, streams, embeddings), the same way every time, and counts what it
read and wrote honestly."""

import base64
import json
import math
import socket
import struct

import jsonschema
import pytest
import requests

from local.images import describe_image
from local.model import LocalModel
from local.schema_instance import instance
from local.tokens import count, json_text, pieces, tokenize

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "minLength": 2, "maxLength": 40},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}
SEARCH = {
    "type": "function",
    "function": {"name": "search_web", "description": "Search the web", "parameters": {"type": "object"}},
}
# What pydantic writes for `class Person(BaseModel): name: str; age: int; tags: list[str];
# address: Address | None` (openai's `parse` sends it with strict: true).
PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer", "exclusiveMinimum": 0, "maximum": 150},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "uniqueItems": True},
        "address": {"anyOf": [{"$ref": "#/$defs/Address"}, {"type": "null"}]},
    },
    "required": ["name", "age", "tags", "address"],
    "additionalProperties": False,
    "$defs": {
        "Address": {
            "type": "object",
            "properties": {"street": {"type": "string"}, "zip": {"type": "string", "pattern": "^[0-9]+$"}},
            "required": ["street"],
            "additionalProperties": False,
        }
    },
}
SCHEMAS = [
    PERSON,
    {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0.5, "exclusiveMaximum": 0.75}},
    {"type": "integer", "minimum": 10, "multipleOf": 7},
    {"type": "number", "maximum": -3.5},
    {"type": ["null", "boolean"]},
    {"type": "string", "format": "date-time"},
    {"type": "string", "format": "email", "maxLength": 40},
    {"const": "fixed"},
    {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "items": False},
    {"allOf": [{"properties": {"a": {"type": "integer"}}, "required": ["a"]}, {"properties": {"b": {}}}]},
    {"type": "array", "items": {"enum": ["x", "y", "z"]}, "minItems": 3, "maxItems": 3, "uniqueItems": True},
    {"type": "object", "properties": {"n": {"type": "string", "minLength": 50}}, "required": ["n"]},
    # a tree of itself: closed with the least it allows
    {
        "$ref": "#/definitions/node",
        "definitions": {
            "node": {
                "type": "object",
                "properties": {"children": {"type": "array", "items": {"$ref": "#/definitions/node"}}},
                "required": ["children"],
            }
        },
    },
]


@pytest.fixture(scope="module")
def model():
    model = LocalModel(pace_s=0).start()
    yield model.base_url
    model.stop()


def post(base_url, path, body):
    return requests.post(f"{base_url}{path}", json=body, timeout=10)


def chat(base_url, messages, **fields):
    reply = post(base_url, "/chat/completions", {"model": "m", "messages": messages, **fields})
    assert reply.status_code == 200, reply.text
    return reply.json()


def streamed(base_url, path, body):
    """The chunks of a streamed answer (with its usage chunk)."""
    body = {**body, "stream": True, "stream_options": {"include_usage": True}}
    with requests.post(f"{base_url}{path}", json=body, stream=True, timeout=10) as reply:
        lines = [line for line in reply.iter_lines(decode_unicode=True) if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line[len("data: ") :]) for line in lines[:-1]]


def png(width, height):
    return (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR" + struct.pack(">II", width, height) + b"\x08\x02\x00\x00\x00"
    )


@pytest.mark.parametrize("schema", SCHEMAS, ids=range(len(SCHEMAS)))
def test_an_instance_is_valid_for_its_schema_and_the_same_every_time(schema):
    # When an instance is made twice for the same schema
    first, second = (
        instance(schema, "Tell me about Ada Lovelace"),
        instance(schema, "Tell me about Ada Lovelace"),
    )
    # Then it is valid (formats checked too), and the same
    jsonschema.validate(first, schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    assert first == second


def test_a_schema_that_only_refers_to_itself_ends():
    assert instance({"$ref": "#"}) is None
    assert instance({"type": "object", "properties": {"a": {"$ref": "#"}}})["a"]["a"] is not None


def test_a_failure_of_its_own_is_a_500_in_openai_s_shape_not_a_dropped_connection(model, monkeypatch):
    def broken(body):
        raise OverflowError

    monkeypatch.setattr("local.model.chat_answer", broken)
    reply = post(model, "/chat/completions", {"messages": [{"role": "user", "content": "hi"}]})
    assert reply.status_code == 500 and reply.json()["error"]["type"] == "server_error"


def test_pieces_join_back_to_the_text_and_cut_at_token_boundaries():
    text = "Local model reply:  héllo, 世界!\n"
    assert "".join(pieces(text)) == text
    assert len(pieces(text)) == len(tokenize(text)) == count(text) == 9
    assert json_text({"type": "function", "enum": ["a", 1, None]}) == "type function enum a 1"


def test_a_tool_is_called_with_arguments_valid_for_its_schema(model):
    # Given two tools and a question that is about one of them
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    # When it is asked, with tool_choice left at auto
    reply = chat(model, messages, tools=[SEARCH, WEATHER])
    # Then it calls that tool, with arguments its schema accepts, and says so
    choice = reply["choices"][0]
    (call,) = choice["message"]["tool_calls"]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    assert call["type"] == "function" and call["function"]["name"] == "get_weather"
    jsonschema.validate(json.loads(call["function"]["arguments"]), WEATHER["function"]["parameters"])
    # and counts every token it read (the tools too) and wrote (the name and the arguments)
    read = count("What is the weather in Paris?") + count(json_text([SEARCH, WEATHER]))
    written = count("get_weather") + count(call["function"]["arguments"])
    assert reply["usage"] == {
        "prompt_tokens": read,
        "completion_tokens": written,
        "total_tokens": read + written,
    }
    assert chat(model, messages, tools=[SEARCH, WEATHER])["choices"] == reply["choices"]  # the same again


def test_tool_choice_is_obeyed_and_a_tool_result_is_answered_in_text(model):
    ask = [{"role": "user", "content": "What is the weather in Paris?"}]
    named = {"type": "function", "function": {"name": "search_web"}}
    assert "tool_calls" not in chat(model, ask, tools=[WEATHER], tool_choice="none")["choices"][0]["message"]
    called = chat(model, ask, tools=[WEATHER, SEARCH], tool_choice=named)["choices"][0]["message"]
    assert called["tool_calls"][0]["function"]["name"] == "search_web"
    # Given the tool's result after the call
    answered = [
        *ask,
        {"role": "assistant", "content": None, "tool_calls": called["tool_calls"]},
        {"role": "tool", "tool_call_id": called["tool_calls"][0]["id"], "content": "18 C and sunny"},
    ]
    # Then under auto it answers in text; under required it calls again
    text = chat(model, answered, tools=[WEATHER])["choices"][0]
    assert text["finish_reason"] == "stop" and "18 C and sunny" in text["message"]["content"]
    assert chat(model, answered, tools=[WEATHER], tool_choice="required")["choices"][0]["message"][
        "tool_calls"
    ]
    unknown = post(model, "/chat/completions", {"messages": ask, "tools": [WEATHER], "tool_choice": named})
    assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "tool_choice"


def test_the_legacy_functions_api_gets_a_function_call_whole_and_streamed(model):
    body = {"messages": [{"role": "user", "content": "Weather in Oslo"}], "functions": [WEATHER["function"]]}
    whole = post(model, "/chat/completions", body).json()["choices"][0]
    assert (
        whole["finish_reason"] == "function_call"
        and whole["message"]["function_call"]["name"] == "get_weather"
    )
    jsonschema.validate(
        json.loads(whole["message"]["function_call"]["arguments"]), WEATHER["function"]["parameters"]
    )
    deltas = [c["choices"][0]["delta"] for c in streamed(model, "/chat/completions", body) if c["choices"]]
    sent = "".join(d["function_call"]["arguments"] for d in deltas if "function_call" in d)
    assert (
        deltas[0]["function_call"]["name"] == "get_weather"
        and sent == whole["message"]["function_call"]["arguments"]
    )
    assert (
        "function_call"
        not in post(model, "/chat/completions", {**body, "function_call": "none"}).json()["choices"][0][
            "message"
        ]
    )


def test_structured_output_is_valid_for_the_schema_and_json_mode_is_an_object(model):
    schema_format = {
        "type": "json_schema",
        "json_schema": {"name": "Person", "schema": PERSON, "strict": True},
    }
    ask = [{"role": "user", "content": "Ada Lovelace, 36"}]
    structured = chat(model, ask, response_format=schema_format)
    jsonschema.validate(json.loads(structured["choices"][0]["message"]["content"]), PERSON)
    assert structured["usage"]["prompt_tokens"] == count("Ada Lovelace, 36") + count(json_text(schema_format))
    json_mode = chat(model, ask, response_format={"type": "json_object"})
    assert isinstance(json.loads(json_mode["choices"][0]["message"]["content"]), dict)


def test_an_answer_past_max_tokens_is_cut_there_json_or_not(model):
    reply = chat(model, [{"role": "user", "content": "Weather in Paris"}], tools=[WEATHER], max_tokens=5)
    choice = reply["choices"][0]
    assert choice["finish_reason"] == "length" and reply["usage"]["completion_tokens"] == 5
    assert count(choice["message"]["tool_calls"][0]["function"]["arguments"]) == 5 - count("get_weather")


def test_a_stop_sequence_ends_the_answer_before_it(model):
    reply = chat(model, [{"role": "user", "content": "one two three"}], stop=[" three", "zzz"])
    assert reply["choices"][0]["message"]["content"] == "Local model reply: one two"
    assert reply["choices"][0]["finish_reason"] == "stop" and reply["usage"]["completion_tokens"] == 6
    legacy = post(model, "/completions", {"prompt": "a b c", "stop": " b"}).json()["choices"][0]
    assert legacy["text"] == "Local model reply: a"


def test_logprobs_cover_each_token_written_whole_and_streamed(model):
    ask = {
        "messages": [{"role": "user", "content": "Hello there, world"}],
        "logprobs": True,
        "top_logprobs": 3,
    }
    reply = chat(model, **ask)
    content = reply["choices"][0]["logprobs"]["content"]
    assert "".join(entry["token"] for entry in content) == reply["choices"][0]["message"]["content"]
    assert len(content) == reply["usage"]["completion_tokens"]
    assert all(entry["logprob"] == 0.0 and len(entry["top_logprobs"]) == 3 for entry in content)
    chunks = streamed(model, "/chat/completions", ask)
    in_chunks = [
        entry
        for c in chunks
        if c["choices"] and c["choices"][0]["logprobs"]
        for entry in c["choices"][0]["logprobs"]["content"]
    ]
    assert in_chunks == content
    legacy = post(model, "/completions", {"prompt": "Say hi", "logprobs": 2}).json()["choices"][0]
    assert "".join(legacy["logprobs"]["tokens"]) == legacy["text"]


def test_images_are_described_from_their_data_url_and_an_https_one_is_never_fetched(model):
    # Given a PNG as a data: URL and an image at an https: URL
    data_url = "data:image/png;base64," + base64.b64encode(png(640, 480)).decode()
    content = [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": data_url}},
        {"type": "image_url", "image_url": {"url": "https://images.example.com/cat.jpg?token=secret"}},
    ]
    # When it is asked about them
    reply = chat(model, [{"role": "user", "content": content}])
    # Then it names each one's kind and size, and the https one's host only (pytest-socket refuses a fetch)
    text = reply["choices"][0]["message"]["content"]
    assert "[image 1: a PNG image (image/png), 640x480 pixels, 29 bytes]" in text
    assert "[image 2: an image at images.example.com (not fetched" in text and "secret" not in text
    described = count(describe_image(data_url)) + count(describe_image(content[2]["image_url"]["url"]))
    assert reply["usage"]["prompt_tokens"] == count("What is in these?") + described


@pytest.mark.parametrize(
    ("image", "kind", "size"),
    [
        (b"GIF89a" + struct.pack("<HH", 32, 16) + b"\x00" * 8, "GIF", "32x16"),
        (
            b"\xff\xd8\xff\xe0\x00\x04\x00\x00\xff\xc0\x00\x11\x08" + struct.pack(">HH", 200, 300) + b"\x03",
            "JPEG",
            "300x200",
        ),
        (
            b"RIFF\x00\x00\x00\x00WEBPVP8X"
            + b"\x00" * 8
            + (99).to_bytes(3, "little")
            + (49).to_bytes(3, "little"),
            "WebP",
            "100x50",
        ),
    ],
)
def test_other_image_kinds_are_read_from_their_own_header(image, kind, size):
    described = describe_image("data:image/x;base64," + base64.b64encode(image).decode())
    assert described.startswith(f"a {kind} image (image/x), {size} pixels")


def test_streams_carry_the_same_answer_tool_calls_in_several_pieces(model):
    # Given a request that calls a tool
    body = {"messages": [{"role": "user", "content": "Weather in Paris"}], "tools": [WEATHER]}
    whole = post(model, "/chat/completions", body).json()
    # When it is streamed
    chunks = streamed(model, "/chat/completions", body)
    # Then the call opens with its id and name, its arguments come in several pieces, and they add up
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    call = whole["choices"][0]["message"]["tool_calls"][0]
    assert deltas[0]["tool_calls"][0]["id"] == call["id"] and deltas[0]["role"] == "assistant"
    pieces_sent = [d["tool_calls"][0]["function"]["arguments"] for d in deltas if d.get("tool_calls")]
    assert len(pieces_sent) > 5 and "".join(pieces_sent) == call["function"]["arguments"]
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["usage"] == whole["usage"]
    # and structured output streams as text that adds up to the whole answer
    body = {
        **body,
        "tools": [],
        "response_format": {"type": "json_schema", "json_schema": {"name": "P", "schema": PERSON}},
    }
    text = "".join(
        c["choices"][0]["delta"].get("content") or ""
        for c in streamed(model, "/chat/completions", body)
        if c["choices"]
    )
    assert text == post(model, "/chat/completions", body).json()["choices"][0]["message"]["content"]


def test_embeddings_are_normalized_deterministic_and_near_for_texts_that_share_words(model):
    texts = ["serverless functions on AWS", "serverless functions", "a recipe for bread"]
    reply = post(model, "/embeddings", {"model": "m", "input": texts, "dimensions": 64}).json()
    vectors = [item["embedding"] for item in reply["data"]]
    assert [item["index"] for item in reply["data"]] == [0, 1, 2] and all(len(v) == 64 for v in vectors)
    assert all(math.isclose(sum(x * x for x in v), 1.0) for v in vectors)

    def cosine(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])
    assert reply["usage"] == {
        "prompt_tokens": sum(count(t) for t in texts),
        "total_tokens": sum(count(t) for t in texts),
    }
    again = post(
        model, "/embeddings", {"input": texts[0], "dimensions": 64, "encoding_format": "base64"}
    ).json()
    decoded = struct.unpack("<64f", base64.b64decode(again["data"][0]["embedding"]))
    assert all(math.isclose(x, y, abs_tol=1e-6) for x, y in zip(decoded, vectors[0], strict=True))


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": ""}, "input"),
        ({"input": [1.5]}, "input"),
        ({"input": "x", "dimensions": 0}, "dimensions"),
        ({"input": "x", "encoding_format": "hex"}, "encoding_format"),
    ],
)
def test_bad_embedding_input_is_a_400_in_openai_s_shape(model, body, param):
    reply = post(model, "/embeddings", body)
    assert reply.status_code == 400
    assert (
        reply.json()["error"]["param"] == param and reply.json()["error"]["type"] == "invalid_request_error"
    )


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"response_format": {"type": "xml"}}, "response_format.type"),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}},
            "response_format.json_schema",
        ),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": "nope"}}]},
            "tools[0].function.parameters",
        ),
        ({"tools": [{"type": "function", "function": {"name": "bad name"}}]}, "tools[0].function.name"),
        ({"tools": [{"type": "retrieval"}]}, "tools[0]"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"top_logprobs": 2}, "top_logprobs"),
    ],
)
def test_what_openai_refuses_the_built_in_model_refuses_naming_the_field(model, fields, param):
    # Given a chat request OpenAI's API answers with a 400 (a client bug make run must not hide)
    reply = post(
        model, "/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "Hi"}], **fields}
    )
    # Then the built-in model refuses it too, naming the field, in OpenAI's shape
    assert reply.status_code == 400 and reply.json()["error"]["param"] == param


def test_content_as_text_parts_is_read_and_counted_as_a_string_is(model):
    # Given the same conversation with its contents as strings, and as lists of parts
    as_strings = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is serverless?"},
    ]
    as_parts = [
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {
            "role": "user",
            "content": [{"type": "text", "text": "What is"}, {"type": "text", "text": "serverless?"}],
        },
    ]
    # When both are asked
    strings, parts = chat(model, as_strings), chat(model, as_parts)
    # Then the parts are read (the reply echoes them) and counted like the strings
    expected_prompt = len(tokenize("Be brief. What is serverless?"))
    assert strings["usage"]["prompt_tokens"] == parts["usage"]["prompt_tokens"] == expected_prompt
    assert parts["choices"][0]["message"]["content"] == "Local model reply: What is serverless?"
    assert parts["usage"] == strings["usage"]


def test_whole_answers_keep_the_connection_open_as_a_providers_api_does(model, monkeypatch):
    connects = []
    connect = socket.socket.connect
    monkeypatch.setattr(
        socket.socket, "connect", lambda sock, address: (connects.append(address), connect(sock, address))[1]
    )
    with requests.Session() as session:
        for _ in range(3):
            reply = session.post(
                f"{model}/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}
            )
            assert reply.status_code == 200 and reply.raw.version == 11
    assert len(connects) == 1  # three requests, one connection

"""The Messages API's request, reply, stream and errors, as pure functions (lib/apis/anthropic_messages*)."""

import json

import pytest

from lib.apis import anthropic_messages_stream as stream_format
from lib.apis.anthropic_messages import input_tokens, parse_count_tokens, parse_messages
from lib.apis.anthropic_messages_errors import error_body, speaks_messages_api
from lib.apis.anthropic_messages_reply import message_reply
from lib.core.answer import Usage
from lib.core.pieces import ChunkHeader, StreamPiece
from lib.core.request import ANTHROPIC_MESSAGES, NATIVE_REPLY
from lib.platform.config import load_settings
from lib.platform.errors import (
    InvalidRequest,
    NotConfigured,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    RouteUnavailable,
    Unauthorized,
    UpstreamError,
    UpstreamTimeout,
)
from lib.providers.upstream_stream import StreamFault

SETTINGS = load_settings({"AUTH_MODE": "none"})
HI = [{"role": "user", "content": "Hi"}]


def parse(**fields):
    return parse_messages({"model": "m", "max_tokens": 50, "messages": HI, **fields}, SETTINGS, {})


def events_of(data: bytes) -> list[dict]:
    """The server-sent events, checking each is named after its type as Anthropic names them."""
    parsed = []
    for block in data.decode().strip().split("\n\n"):
        name, payload = block.split("\n")
        event = json.loads(payload.removeprefix("data: "))
        assert name == f"event: {event['type']}"
        parsed.append(event)
    return parsed


class TestRequest:
    @pytest.mark.parametrize(
        ("fields", "param"),
        [
            ({"max_tokens": None}, "max_tokens"),
            ({"model": ""}, "model"),
            ({"messages": []}, "messages"),
            ({"messages": [{"role": "system", "content": "x"}]}, "messages[0].role"),
            ({"messages": [{"role": "user", "content": [{"text": "no type"}]}]}, "messages[0].content"),
            ({"temperature": 1.5}, "temperature"),
            ({"top_p": 2}, "top_p"),
            ({"top_k": -1}, "top_k"),
            ({"stop_sequences": "END"}, "stop_sequences"),
            ({"system": [{"type": "image"}]}, "system[0]"),
            ({"metadata": {"user_id": 7}}, "metadata"),
            ({"tool_choice": {"type": "sometimes"}}, "tool_choice"),
            ({"tools": [{"name": "t"}]}, "tools[0].input_schema"),
            ({"output_config": {"format": {"type": "xml"}}}, "output_config.format"),
        ],
    )
    def test_bad_input_is_a_400_naming_the_field(self, fields, param):
        body = {"model": "m", "max_tokens": 50, "messages": HI, **fields}
        body = {name: value for name, value in body.items() if value is not None}
        with pytest.raises(InvalidRequest) as raised:
            parse_messages(body, SETTINGS, {})
        assert raised.value.param == param

    def test_the_neutral_form_is_openai_chat_with_the_gateway_s_fields_apart(self):
        # Given a request with every translated field
        request = parse(
            system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            temperature=0.5,
            top_p=0.9,
            top_k=5,
            stop_sequences=["END"],
            metadata={"user_id": "u-1"},
            tools=[{"name": "t", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}],
            tool_choice={"type": "any", "disable_parallel_tool_use": True},
            thinking={"type": "disabled"},
            service_tier="auto",
            cache_control={"type": "ephemeral"},
        )

        # Then the neutral request holds OpenAI's names; what asks for nothing is left out
        assert request.messages == (
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
        )
        assert (request.temperature, request.max_tokens, request.stream) == (0.5, 50, False)
        assert request.extra == {
            "tools": [{"type": "function", "function": {"name": "t", "parameters": {"type": "object"}}}],
            "tool_choice": "required",
            "parallel_tool_calls": False,
            "stop": ["END"],
            "top_p": 0.9,
            "top_k": 5,
            "user": "u-1",
        }
        # ... and the native body is the caller's, less what the gateway decides
        assert request.native.api == ANTHROPIC_MESSAGES
        assert "temperature" not in request.native.body and "model" not in request.native.body
        assert request.native.body["cache_control"] == {"type": "ephemeral"}

    def test_a_conversation_with_tools_images_and_thinking(self):
        # Given a tool round trip after an image, with the assistant's thinking in between
        image = {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
        }
        messages = [
            {"role": "user", "content": [image, {"type": "text", "text": "What is this?"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Look closer.", "signature": "c2ln"},
                    {"type": "text", "text": "Let me zoom."},
                    {"type": "tool_use", "id": "toolu_1", "name": "zoom", "input": {"factor": 2}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [{"type": "text", "text": "a cat"}],
                    },
                    {"type": "text", "text": "And now?"},
                ],
            },
            {"role": "user", "content": [{"type": "document", "source": {"type": "text", "data": "x"}}]},
        ]

        request = parse(messages=messages)

        # Then images are data URLs, tool calls and results OpenAI's, thinking left out, a document kept
        assert request.messages == (
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                    {"type": "text", "text": "What is this?"},
                ],
            },
            {
                "role": "assistant",
                "content": "Let me zoom.",
                "tool_calls": [
                    {
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "zoom", "arguments": '{"factor": 2}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_1", "content": "a cat"},
            {"role": "user", "content": [{"type": "text", "text": "And now?"}]},
            {"role": "user", "content": [{"type": "document", "source": {"type": "text", "data": "x"}}]},
        )
        # ... and the native body keeps the thinking block for an anthropic route
        assert request.native.body["messages"][1]["content"][0]["type"] == "thinking"

    def test_an_image_alone_is_a_question(self):
        image = {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}}
        request = parse(messages=[{"role": "user", "content": [image]}])
        assert request.messages[0]["content"][0]["image_url"]["url"] == "https://example.com/cat.png"

    def test_structured_output_and_effort_map_to_openai_s_names(self):
        schema = {"type": "object", "properties": {"name": {"type": "string"}}}
        request = parse(output_config={"format": {"type": "json_schema", "schema": schema}, "effort": "low"})
        assert request.extra["response_format"] == {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": schema},
        }
        assert request.extra["reasoning_effort"] == "low"

    def test_the_system_prompt_comes_before_the_caller_s_in_both_forms(self):
        settings = load_settings({"AUTH_MODE": "none", "SYSTEM_PROMPT": "Answer in French."})
        request = parse_messages(
            {"model": "m", "max_tokens": 9, "messages": HI, "system": "Be brief."}, settings, {}
        )
        assert [message["content"] for message in request.messages[:2]] == ["Answer in French.", "Be brief."]
        assert request.native.body["system"] == [
            {"type": "text", "text": "Answer in French."},
            {"type": "text", "text": "Be brief."},
        ]

    def test_the_beta_header_goes_with_the_native_body_and_must_be_feature_names(self):
        body = {"model": "m", "max_tokens": 9, "messages": HI}
        beta = {"Anthropic-Beta": "context-1m-2025-08-07, interleaved-thinking-2025-05-14"}
        assert parse_messages(body, SETTINGS, beta).native.headers == {
            "anthropic-beta": beta["Anthropic-Beta"]
        }
        with pytest.raises(InvalidRequest) as raised:
            parse_messages(body, SETTINGS, {"anthropic-beta": "x\r\nInjected: 1"})
        assert raised.value.param == "anthropic-beta"

    def test_the_blocklist_and_input_limit_read_every_text_sent(self):
        settings = load_settings({"AUTH_MODE": "none", "BLOCKED_PATTERNS": "forbidden"})
        thinking = {"type": "thinking", "thinking": "a forbidden thought", "signature": "s"}
        messages = [*HI, {"role": "assistant", "content": [thinking]}, {"role": "user", "content": "go on"}]
        with pytest.raises(InvalidRequest) as raised:
            parse_messages({"model": "m", "max_tokens": 9, "messages": messages}, settings, {})
        assert raised.value.code == "content_blocked"

    def test_count_tokens_needs_no_max_tokens(self):
        request = parse_count_tokens({"model": "m", "messages": HI}, SETTINGS)
        assert input_tokens(request) == request.input_tokens >= len("Hi")  # the budget's bound


class TestReply:
    def test_a_neutral_answer_becomes_a_message(self):
        call = {
            "id": "call_1",
            "type": "function",
            "function": {"name": "zoom", "arguments": '{"factor": 2}'},
        }
        body = {
            "model": "gpt",
            "choices": [
                {"message": {"content": "Zooming.", "tool_calls": [call]}, "finish_reason": "tool_calls"}
            ],
            "usage": {
                "prompt_tokens": 30,
                "completion_tokens": 7,
                "prompt_tokens_details": {"cached_tokens": 20},
            },
        }

        reply = message_reply(body, parse(), Usage(30, 7))

        assert reply["id"].startswith("msg_") and reply["model"] == "gpt"
        assert reply["content"] == [
            {"type": "text", "text": "Zooming."},
            {"type": "tool_use", "id": "call_1", "name": "zoom", "input": {"factor": 2}},
        ]
        assert (reply["stop_reason"], reply["stop_sequence"]) == ("tool_use", None)
        # Anthropic counts tokens read from a prompt cache apart from the input tokens
        assert reply["usage"] == {
            "input_tokens": 10,
            "output_tokens": 7,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 20,
        }

    @pytest.mark.parametrize(
        ("finish", "stop"), [("stop", "end_turn"), ("length", "max_tokens"), (None, "end_turn")]
    )
    def test_finish_reasons(self, finish, stop):
        body = {"choices": [{"message": {"content": "x"}, "finish_reason": finish}]}
        assert message_reply(body, parse(), Usage(1, 1))["stop_reason"] == stop

    def test_an_anthropic_route_s_own_message_is_handed_on_with_the_route_s_name(self):
        native = {
            "id": "msg_1",
            "type": "message",
            "content": [{"type": "thinking", "thinking": "..."}],
            "model": "claude-x",
        }
        reply = message_reply({"model": "claude", NATIVE_REPLY: native}, parse(), Usage(1, 1))
        assert reply == {**native, "model": "claude"}


def write(pieces):
    writer = stream_format.writer(parse(stream=True), ChunkHeader("chatcmpl-1", 0, "gpt"))
    written = writer.start() + b"".join(writer.piece(piece) for piece in pieces) + writer.end(Usage(20, 9))
    return events_of(written)


class TestStream:
    def test_text_then_a_tool_call_in_anthropic_s_event_sequence(self):
        events = write(
            [
                StreamPiece(role="assistant"),
                StreamPiece(text="Let me "),
                StreamPiece(text="look."),
                StreamPiece(
                    tool_calls=[{"index": 0, "id": "c1", "function": {"name": "zoom", "arguments": ""}}]
                ),
                StreamPiece(tool_calls=[{"index": 0, "function": {"arguments": '{"factor"'}}]),
                StreamPiece(tool_calls=[{"index": 0, "function": {"arguments": ": 2}"}}]),
                StreamPiece(finish_reason="tool_calls", usage=(20, 9)),
            ]
        )

        assert [event["type"] for event in events] == [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
        assert events[0]["message"]["model"] == "gpt" and events[0]["message"]["id"].startswith("msg_")
        assert events[6]["content_block"] == {"type": "tool_use", "id": "c1", "name": "zoom", "input": {}}
        assert "".join(event["delta"]["partial_json"] for event in events[7:9]) == '{"factor": 2}'
        assert events[10]["delta"]["stop_reason"] == "tool_use"
        assert events[10]["usage"]["input_tokens"] == 20 and events[10]["usage"]["output_tokens"] == 9

    def test_an_empty_answer_still_starts_and_ends(self):
        assert [event["type"] for event in write([])] == ["message_start", "message_delta", "message_stop"]

    def test_an_anthropic_route_s_own_events_are_handed_on(self):
        start = {"type": "message_start", "message": {"id": "msg_up", "model": "claude-x", "content": []}}
        thinking = {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "hm"},
        }
        stop = {"type": "message_stop"}

        events = write(
            [
                StreamPiece(native=start),
                StreamPiece(role="assistant"),  # what the gateway read from it: not the caller's
                StreamPiece(native=thinking),
                StreamPiece(native=stop),
                StreamPiece(finish_reason="stop", usage=(3, 1)),
            ]
        )

        assert events == [{**start, "message": {**start["message"], "model": "gpt"}}, thinking, stop]

    @pytest.mark.parametrize(("kind", "error_type"), [("cut", "api_error"), ("idle", "timeout_error")])
    def test_a_stream_that_breaks_off_ends_with_an_error_event(self, kind, error_type):
        writer = stream_format.writer(parse(stream=True), ChunkHeader("chatcmpl-1", 0, "gpt"))
        (event,) = events_of(writer.fail(StreamFault(kind, "gone")))
        assert event["type"] == "error" and event["error"]["type"] == error_type

    def test_a_cached_answer_is_replayed_as_a_stream(self):
        body = {"model": "gpt", "choices": [{"message": {"content": "Hi!"}, "finish_reason": "stop"}]}
        events = events_of(stream_format.replay(body, parse(stream=True), Usage(3, 2)))
        assert [event["type"] for event in events] == [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
        assert events[2]["delta"]["text"] == "Hi!" and events[4]["usage"]["output_tokens"] == 2


class TestErrors:
    @pytest.mark.parametrize(
        ("error", "error_type"),
        [
            (InvalidRequest("x"), "invalid_request_error"),
            (Unauthorized("x"), "authentication_error"),
            (NotFound("x"), "not_found_error"),
            (PayloadTooLarge("x"), "request_too_large"),
            (RateLimited("x"), "rate_limit_error"),
            (UpstreamError("x"), "api_error"),
            (NotConfigured("x"), "api_error"),
            (RouteUnavailable("x"), "overloaded_error"),
            (UpstreamTimeout("x"), "timeout_error"),
        ],
    )
    def test_each_error_has_anthropic_s_type(self, error, error_type):
        assert error_body(error) == {"type": "error", "error": {"type": error_type, "message": "x"}}

    @pytest.mark.parametrize(
        ("path", "headers", "anthropic"),
        [
            ("/v1/messages", {}, True),
            ("/v1/messages/count_tokens", {}, True),
            ("/v1/messages/batches", {}, True),
            ("/v1/models", {"Anthropic-Version": "2023-06-01"}, True),
            ("/v1/models/x", {}, False),
            ("/v1/chat/completions", {"anthropic-version": "2023-06-01"}, False),
            ("/v1/messagesx", {}, False),
        ],
    )
    def test_which_requests_speak_the_messages_api(self, path, headers, anthropic):
        assert speaks_messages_api(path, headers) is anthropic


def test_the_openapi_document_describes_the_messages_api_with_anthropic_s_errors():
    from lib.http.routes import OPENAPI_FILE

    paths = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))["paths"]
    create, count = paths["/v1/messages"]["post"], paths["/v1/messages/count_tokens"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/MessagesRequest")
    assert "text/event-stream" in create["responses"]["200"]["content"]
    assert count["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/TokenCount")
    error = create["responses"]["429"]["content"]["application/json"]["schema"]["$ref"]
    assert error.endswith("/AnthropicErrorReply")


def test_earlier_thinking_blocks_are_reserved_as_anthropic_reads_them():
    # Given a conversation whose assistant turn carries its thinking and a redacted thinking block
    thinking = [
        {"type": "thinking", "thinking": "Let me think. " * 200, "signature": "s" * 300},
        {"type": "redacted_thinking", "data": "d" * 500},
        {"type": "text", "text": "Hello."},
    ]
    turns = [*HI, {"role": "assistant", "content": thinking}, {"role": "user", "content": "More"}]
    without = [*HI, {"role": "assistant", "content": thinking[-1:]}, {"role": "user", "content": "More"}]

    # When both are parsed (the neutral messages leave thinking out: only Anthropic reads it back)
    bound, plain = (input_tokens(parse(messages=messages)) for messages in (turns, without))

    # Then the input bound covers every character of the thinking, its signature and the redacted data
    assert bound - plain >= len("Let me think. ") * 200 + 300 + 500


def test_base64_images_and_documents_are_not_text_to_the_text_limits():
    # Given an image and a PDF of 6,000 base64 characters each, under a 4,000-character text limit
    data = "A" * 6000
    content = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": data}},
        {"type": "text", "text": "What do these show?"},
    ]
    settings = load_settings({"AUTH_MODE": "none", "MAX_INPUT_CHARS": "4000"})

    # When the request is parsed
    request = parse_messages(
        {"model": "m", "max_tokens": 50, "messages": [{"role": "user", "content": content}]}, settings, {}
    )

    # Then only the text counts as text, and the media still travel to the provider
    assert request.input_chars < 4000
    assert request.native is not None and data in json.dumps(request.native.body)

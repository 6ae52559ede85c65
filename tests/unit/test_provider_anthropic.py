"""Anthropic's wire format as pure functions: OpenAI requests in, Messages API payloads out, and back."""

import json

import pytest

from lib.apis.openai_replies import openai_reply
from lib.apis.openai_requests import parse_chat, parse_completion
from lib.core.answer import Usage
from lib.platform.config import load_settings
from lib.platform.errors import InvalidRequest, UpstreamError
from lib.platform.route_table import Route
from lib.providers import PROVIDERS, anthropic
from lib.providers.upstream_stream import ServerEvent, StreamFault
from tests.support.fake_anthropic import error_body, message, text_block, text_stream, tool_use_block

ROUTE = Route(
    name="claude", provider="anthropic", model="claude-sonnet-4-5", endpoint="https://x/v1", key="env:K"
)
SETTINGS = load_settings({"AUTH_MODE": "none", "TEMPERATURE_MIN": "0", "TEMPERATURE_MAX": "2"})
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def chat(*messages, **fields):
    return parse_chat({"model": "claude", "messages": list(messages), **fields}, SETTINGS)


def user(content):
    return {"role": "user", "content": content}


def build(request):
    path, payload = anthropic.build(request, ROUTE)
    assert path == "/messages"
    return payload


def refusal(request):
    with pytest.raises(InvalidRequest) as error:
        anthropic.check(request, ROUTE)
    return error.value


class TestBuild:
    def test_a_plain_chat_becomes_a_messages_request_with_max_tokens_and_the_routes_model(self):
        payload = build(chat(user("Hi"), max_tokens=50))
        assert payload == {
            "model": "claude-sonnet-4-5",
            "max_tokens": 50,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        }

    def test_max_tokens_is_sent_even_when_the_caller_sent_none(self):
        assert build(chat(user("Hi")))["max_tokens"] == SETTINGS.default_max_tokens

    def test_system_and_developer_messages_become_the_top_level_system(self):
        payload = build(
            chat(
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
                user("Hi"),
            )
        )
        assert payload["system"] == "Be brief.\n\nAnswer in French."
        assert [turn["role"] for turn in payload["messages"]] == ["user"]

    def test_consecutive_same_role_messages_are_merged_into_one_turn(self):
        payload = build(
            chat(user("one"), user([{"type": "text", "text": "two"}]), {"role": "assistant", "content": "ok"})
        )
        assert payload["messages"] == [
            {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
        ]

    def test_tool_calls_and_tool_results_become_tool_use_and_tool_result_blocks(self):
        payload = build(
            chat(
                user("Weather in Paris and Rome?"),
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        },
                        {
                            "id": "call_2",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "rain"}]},
                user("Thanks"),
                tools=[WEATHER_TOOL],
            )
        )
        assert payload["messages"][1] == {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}},
            ],
        }
        # Both results and the next user message form one user turn, results first.
        assert payload["messages"][2] == {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "rain"},
                {"type": "text", "text": "Thanks"},
            ],
        }

    def test_tools_become_name_description_and_input_schema(self):
        bare = {"type": "function", "function": {"name": "now"}}
        payload = build(chat(user("Hi"), tools=[WEATHER_TOOL, bare]))
        assert payload["tools"] == [
            {
                "name": "get_weather",
                "description": "The weather in a city",
                "input_schema": WEATHER_TOOL["function"]["parameters"],
            },
            {"name": "now", "input_schema": {"type": "object", "properties": {}}},
        ]

    @pytest.mark.parametrize(
        ("tool_choice", "expected"),
        [
            ("auto", {"type": "auto"}),
            ("none", {"type": "none"}),
            ("required", {"type": "any"}),
            (
                {"type": "function", "function": {"name": "get_weather"}},
                {"type": "tool", "name": "get_weather"},
            ),
        ],
    )
    def test_tool_choice_is_mapped(self, tool_choice, expected):
        assert (
            build(chat(user("Hi"), tools=[WEATHER_TOOL], tool_choice=tool_choice))["tool_choice"] == expected
        )

    def test_parallel_tool_calls_false_disables_parallel_tool_use(self):
        payload = build(chat(user("Hi"), tools=[WEATHER_TOOL], parallel_tool_calls=False))
        assert payload["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
        payload = build(
            chat(user("Hi"), tools=[WEATHER_TOOL], tool_choice="required", parallel_tool_calls=False)
        )
        assert payload["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}

    def test_sampling_stop_and_user_are_mapped(self):
        payload = build(chat(user("Hi"), temperature=0.3, top_p=0.9, stop="END", user="caller-7"))
        assert (payload["temperature"], payload["top_p"]) == (0.3, 0.9)
        assert payload["stop_sequences"] == ["END"]
        assert payload["metadata"] == {"user_id": "caller-7"}
        assert build(chat(user("Hi"), stop=["\n\n", "END"]))["stop_sequences"] == ["\n\n", "END"]

    def test_a_base64_image_becomes_an_image_block(self):
        part = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}}
        payload = build(chat(user([{"type": "text", "text": "What is this?"}, part])))
        assert payload["messages"][0]["content"][1] == {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": PIXEL},
        }

    def test_an_https_image_becomes_a_url_image_block_alone_in_its_message(self):
        # Given a user message holding only an image at an https URL
        part = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
        # When it is built for Anthropic
        payload = build(chat(user([part])))
        # Then Anthropic gets its URL source (Anthropic fetches it; the gateway never does)
        assert payload["messages"][0]["content"] == [
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}}
        ]

    def test_a_final_assistant_prefill_loses_its_trailing_whitespace(self):
        payload = build(chat(user("Name a colour"), {"role": "assistant", "content": "The colour is "}))
        assert payload["messages"][-1]["content"] == [{"type": "text", "text": "The colour is"}]

    def test_a_legacy_completion_sends_the_prompt_as_one_user_message(self):
        request = parse_completion({"prompt": "Once upon a time", "max_tokens": 20, "stop": ["\n"]}, SETTINGS)
        payload = build(request)
        assert payload["messages"] == [
            {"role": "user", "content": [{"type": "text", "text": "Once upon a time"}]}
        ]
        assert payload["stop_sequences"] == ["\n"]
        assert "system" not in payload

    def test_values_that_ask_for_nothing_are_accepted_and_not_sent(self):
        payload = build(
            chat(
                user("Hi"),
                logprobs=False,
                presence_penalty=0,
                frequency_penalty=0.0,
                logit_bias={},
                response_format={"type": "text"},
                tool_choice=None,
            )
        )
        assert set(payload) == {"model", "max_tokens", "messages"}


SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


class TestStructuredOutput:
    def test_a_json_schema_becomes_anthropics_output_config_format(self):
        # Given a chat asking for a named JSON schema
        response_format = {"type": "json_schema", "json_schema": {"name": "weather", "schema": SCHEMA}}
        # When it is built for Anthropic
        payload = build(chat(user("Weather?"), response_format=response_format))
        # Then the schema is Anthropic's structured output, and nothing else is added
        assert payload["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}
        assert "tools" not in payload and "response_format" not in payload

    @pytest.mark.parametrize(
        ("value", "problem"),
        [
            ({"type": "json_schema", "json_schema": {"name": "w"}}, '{"type": "json_schema", "json_schema"'),
            ({"type": "json_schema", "json_schema": {"schema": SCHEMA}}, '"name": ...'),
            ({"type": "xml"}, '{"type": "text"} or'),
        ],
    )
    def test_a_malformed_format_is_a_400_saying_what_to_send(self, value, problem):
        error = refusal(chat(user("Hi"), response_format=value))
        assert (error.param, error.status) == ("response_format", 400)
        assert problem in error.message and "route 'claude' (anthropic)" in error.message

    def test_json_mode_is_a_forced_tool_whose_call_comes_back_as_the_text(self):
        # Given JSON mode, which Anthropic has no field for
        request = chat(user("Weather?"), response_format={"type": "json_object"})
        # When it is built, and Anthropic answers by calling the tool it was made to call
        payload = build(request)
        answer = message(tool_use_block("toolu_1", "json_answer", {"city": "Oslo"}), stop_reason="tool_use")
        reply = anthropic.parse(answer, request)
        # Then the model was made to call the JSON tool once, and its input is the answer's text
        assert [tool["name"] for tool in payload["tools"]] == ["json_answer"]
        assert payload["tool_choice"] == {
            "type": "tool",
            "name": "json_answer",
            "disable_parallel_tool_use": True,
        }
        choice = reply["choices"][0]
        assert json.loads(choice["message"]["content"]) == {"city": "Oslo"}
        assert "tool_calls" not in choice["message"] and choice["finish_reason"] == "stop"


class TestRefusals:
    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("logit_bias", {"50256": -100}),
            ("logprobs", True),
            ("top_logprobs", 3),
            ("presence_penalty", 0.5),
            ("frequency_penalty", 1),
            ("service_tier", "flex"),
            ("functions", [{"name": "f"}]),
        ],
    )
    def test_fields_without_a_mapping_are_refused_naming_field_and_route(self, field, value):
        error = refusal(chat(user("Hi"), **{field: value}))
        assert error.message == f"{field} is not supported by route 'claude' (anthropic)"
        assert (error.param, error.code, error.status) == (field, "unsupported_parameter", 400)

    def test_seed_is_refused(self):
        assert (
            refusal(chat(user("Hi"), seed=7)).message == "seed is not supported by route 'claude' (anthropic)"
        )

    @pytest.mark.parametrize(("field", "value"), [("suffix", "the end"), ("echo", True), ("tools", [])])
    def test_legacy_completion_fields_without_a_mapping_are_refused(self, field, value):
        request = parse_completion({"prompt": "Hi", field: value}, SETTINGS)
        assert refusal(request).param == field

    def test_temperature_above_anthropics_range_is_refused(self):
        error = refusal(chat(user("Hi"), temperature=1.5))
        assert error.message == "temperature must be at most 1 for route 'claude' (anthropic)"

    @pytest.mark.parametrize(
        "url",
        [f"data:image/bmp;base64,{PIXEL}", "data:image/png;base64,not*base64"],
    )
    def test_images_that_are_not_https_or_base64_data_urls_are_refused(self, url):
        request = chat(
            user([{"type": "text", "text": "What?"}, {"type": "image_url", "image_url": {"url": url}}])
        )
        assert refusal(request).param == "messages[0].content[1]"

    def test_other_content_parts_are_refused(self):
        audio = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
        request = chat(user([{"type": "text", "text": "Transcribe"}, audio]))
        assert refusal(request).param == "messages[0].content[1]"

    @pytest.mark.parametrize("arguments", ['{"city": ', "[1, 2]", None])
    def test_tool_call_arguments_that_are_not_a_json_object_are_refused(self, arguments):
        call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": arguments}}
        request = chat(
            user("Hi"), {"role": "assistant", "content": None, "tool_calls": [call]}, tools=[WEATHER_TOOL]
        )
        error = refusal(request)
        assert error.param == "messages[1].tool_calls[0].function.arguments"
        assert "route 'claude' (anthropic)" in error.message

    @pytest.mark.parametrize(
        ("fields", "param"),
        [
            ({"tools": [{"type": "code_interpreter"}]}, "tools[0]"),
            ({"tools": [WEATHER_TOOL], "tool_choice": "sometimes"}, "tool_choice"),
            ({"tool_choice": "required"}, "tool_choice"),
            ({"top_p": 2}, "top_p"),
        ],
    )
    def test_mapped_fields_with_values_anthropic_would_reject_are_refused(self, fields, param):
        assert refusal(chat(user("Hi"), **fields)).param == param

    @pytest.mark.parametrize(("fields", "param"), [({"stop": 5}, "stop"), ({"user": 42}, "user")])
    def test_a_type_openai_would_refuse_is_refused_before_any_route(self, fields, param):
        with pytest.raises(InvalidRequest) as error:  # lib/stages/field_types.py, whatever the provider
            chat(user("Hi"), **fields)
        assert error.value.param == param

    def test_malformed_tool_messages_are_refused_not_crashed_on(self):
        assert refusal(chat(user("Hi"), {"role": "tool", "content": "x"})).param == "messages[1].tool_call_id"
        bad_call = {"role": "assistant", "tool_calls": [{"function": "f"}]}
        assert refusal(chat(user("Hi"), bad_call)).param == "messages[1].tool_calls[0]"

    def test_a_conversation_of_system_messages_only_is_refused(self):
        assert refusal(chat({"role": "system", "content": "Be brief."})).param == "messages"

    def test_the_deprecated_function_role_is_refused(self):
        request = chat(user("Hi"), {"role": "function", "name": "f", "content": "1"})
        assert refusal(request).param == "messages[1].role"


class TestParse:
    def test_text_blocks_become_one_chat_completion_message(self):
        body = message(text_block("Hello"), text_block(" there"), input_tokens=12, output_tokens=6)
        reply = anthropic.parse(body, chat(user("Hi")))
        assert reply["object"] == "chat.completion"
        assert reply["model"] == "claude-test"
        assert reply["choices"] == [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello there"},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ]
        assert reply["usage"] == {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18}

    def test_tool_use_blocks_become_tool_calls_with_json_arguments(self):
        body = message(tool_use_block("toolu_1", "get_weather", {"city": "Paris"}), stop_reason="tool_use")
        choice = anthropic.parse(body, chat(user("Hi")))["choices"][0]
        assert choice["finish_reason"] == "tool_calls"
        assert choice["message"]["content"] is None
        (call,) = choice["message"]["tool_calls"]
        assert (call["id"], call["type"], call["function"]["name"]) == ("toolu_1", "function", "get_weather")
        assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}

    @pytest.mark.parametrize(
        ("stop_reason", "finish_reason"),
        [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("max_tokens", "length"),
            ("refusal", "content_filter"),
        ],
    )
    def test_stop_reasons_map_to_finish_reasons(self, stop_reason, finish_reason):
        reply = anthropic.parse(message(stop_reason=stop_reason), chat(user("Hi")))
        assert reply["choices"][0]["finish_reason"] == finish_reason

    def test_a_legacy_completion_gets_a_text_completion(self):
        reply = anthropic.parse(
            message(text_block("…and then")), parse_completion({"prompt": "Once"}, SETTINGS)
        )
        assert reply["object"] == "text_completion"
        assert reply["choices"][0]["text"] == "…and then"

    def test_the_reply_keeps_anthropics_id_or_gets_one_of_ours(self):
        request = chat(user("Hi"))
        assert anthropic.parse(message(), request)["id"] == "msg_01XFDUDYJgAACzvnptvVoYEL"
        body = message()
        del body["id"]
        reply = openai_reply(anthropic.parse(body, request), request, Usage(12, 6))
        assert reply["id"].startswith("chatcmpl-")

    def test_cached_prompt_tokens_count_as_prompt_tokens(self):
        body = message()
        body["usage"].update(cache_creation_input_tokens=100, cache_read_input_tokens=1000)
        assert anthropic.parse(body, chat(user("Hi")))["usage"]["prompt_tokens"] == 1112

    def test_prompt_cache_reads_and_writes_reach_openais_usage_details(self):
        # Given an answer that read 1000 prompt tokens from the cache and wrote 100 to it
        body = message()
        body["usage"].update(cache_creation_input_tokens=100, cache_read_input_tokens=1000)
        request = chat(user("Hi"))
        # When it becomes the caller's OpenAI reply
        reply = openai_reply(anthropic.parse(body, request), request, Usage(1112, 6))
        # Then the usage details say so, as OpenAI (reads) and OpenAI-compatible gateways (writes) do
        assert reply["usage"]["prompt_tokens_details"] == {"cached_tokens": 1000, "cache_write_tokens": 100}

    @pytest.mark.parametrize(
        "body",
        [
            {"error": {"type": "overloaded_error", "message": "secret sk-ant-leak"}},
            {**message(), "type": "completion"},
            {**message(), "content": "Hello"},
            {**message(), "content": [{"type": "text"}]},
            {**message(), "content": ["Hello"]},
            {**message(), "content": [{"type": "tool_use", "id": "t", "name": "f", "input": "x"}]},
            {**message(), "usage": {"input_tokens": 5}},
            {**message(), "usage": {"input_tokens": -1, "output_tokens": 2}},
            {**message(), "stop_reason": None},
        ],
    )
    def test_an_unexpected_shape_is_an_upstream_error_without_the_providers_text(self, body):
        with pytest.raises(UpstreamError) as error:
            anthropic.parse(body, chat(user("Hi")))
        assert "sk-ant" not in error.value.message
        assert error.value.status == 502


def test_the_key_goes_in_x_api_key_with_the_api_version():
    assert anthropic.auth_headers("sk-ant-123") == {"x-api-key": "sk-ant-123"}
    assert anthropic.EXTRA_HEADERS == {"anthropic-version": "2023-06-01"}


def test_the_provider_is_registered():
    assert PROVIDERS["anthropic"] is anthropic


def events_of(*events):
    return [ServerEvent(event["type"], json.dumps(event)) for event in events]


def tool_stream():
    start = {**message(), "content": [], "stop_reason": None}
    tool = {"type": "tool_use", "id": "toolu_7", "name": "get_weather", "input": {}}
    return [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Let me check."}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": tool},
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"ci'},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": 'ty": "Oslo"}'},
        },
        {"type": "content_block_stop", "index": 1},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 20}},
        {"type": "message_stop"},
    ]


class TestParseStream:
    def test_build_stream_asks_for_a_stream_of_the_same_request(self):
        request = chat(user("Hi"), max_tokens=50)
        path, payload = anthropic.build_stream(request, ROUTE)
        assert (path, payload) == ("/messages", {**build(request), "stream": True})

    def test_a_text_stream_becomes_role_text_finish_and_usage_pieces(self):
        events = text_stream("Hel", "lo", input_tokens=25, output_tokens=15)
        events[0]["message"]["usage"]["cache_read_input_tokens"] = 100
        pieces = list(anthropic.parse_stream(events_of(*events), chat(user("Hi"))))
        assert pieces[0].role == "assistant"
        assert "".join(piece.text for piece in pieces) == "Hello"
        assert pieces[-1].finish_reason == "stop"
        assert pieces[-1].usage == (125, 15)
        assert pieces[-1].usage_details == {"prompt_tokens_details": {"cached_tokens": 100}}

    def test_a_tool_call_streams_as_openai_tool_call_deltas(self):
        pieces = list(anthropic.parse_stream(events_of(*tool_stream()), chat(user("Oslo?"))))
        calls = [call for piece in pieces for call in piece.tool_calls or []]
        assert calls[0] == {
            "index": 0,
            "id": "toolu_7",
            "type": "function",
            "function": {"name": "get_weather", "arguments": ""},
        }
        assert {call["index"] for call in calls} == {0}
        assert json.loads("".join(call["function"]["arguments"] for call in calls)) == {"city": "Oslo"}
        assert "".join(piece.text for piece in pieces) == "Let me check."
        assert pieces[-1].finish_reason == "tool_calls"

    def test_thinking_deltas_and_pings_are_not_forwarded(self):
        events = text_stream("Hi")
        thinking = {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "hmm"},
        }
        events.insert(3, thinking)
        pieces = list(anthropic.parse_stream(events_of(*events), chat(user("Hi"))))
        assert "".join(piece.text for piece in pieces) == "Hi"

    def test_a_stream_that_ends_before_message_stop_was_cut(self):
        with pytest.raises(StreamFault) as fault:
            list(anthropic.parse_stream(events_of(*text_stream("Hi")[:-2]), chat(user("Hi"))))
        assert fault.value.kind == "cut"

    @pytest.mark.parametrize(
        "bad_event",
        [
            ServerEvent("error", json.dumps(error_body("overloaded_error", "sk-ant-leak in the text"))),
            ServerEvent("content_block_delta", "not json sk-ant-leak"),
            ServerEvent("content_block_delta", "[1, 2]"),
            ServerEvent("content_block_delta", json.dumps({"type": "content_block_delta", "index": 0})),
            ServerEvent(
                "content_block_delta",
                json.dumps(
                    {
                        "type": "content_block_delta",
                        "index": 5,
                        "delta": {"type": "input_json_delta", "partial_json": "{"},
                    }
                ),
            ),
        ],
    )
    def test_an_error_or_malformed_event_is_a_malformed_stream_without_the_providers_text(self, bad_event):
        events = [*events_of(*text_stream("Hi")[:3]), bad_event]
        with pytest.raises(StreamFault) as fault:
            list(anthropic.parse_stream(events, chat(user("Hi"))))
        assert fault.value.kind == "malformed"
        assert "sk-ant" not in str(fault.value)

"""Bedrock's Converse mapping: what it refuses (a 400 naming the field and the route, before any call)
and how Converse's stop reasons and usage become OpenAI's."""

import base64
import json

import pytest

from lib.apis.openai_requests import parse_chat, parse_completion
from lib.core.request import ModelRequest
from lib.platform.config import load_settings
from lib.platform.errors import InvalidRequest, UpstreamError
from lib.platform.route_table import Route
from lib.providers import converse, converse_reply
from lib.providers.bedrock import BedrockProvider
from lib.providers.bedrock_clients import ClientsByTimeout

ROUTE = Route(name="claude-bedrock", provider="bedrock", model="anthropic.claude-3-haiku-20240307-v1:0")
USER = {"role": "user", "content": "hi"}
TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
CALL = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}


def never_built(config):
    raise AssertionError("check() must not build a client")


SETTINGS = load_settings({"AUTH_MODE": "none", "TEMPERATURE_MAX": "2"})
PROVIDER = BedrockProvider(ROUTE, ClientsByTimeout(never_built))


def chat_request(body):
    return parse_chat({"messages": [USER], **body}, SETTINGS)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"seed": 7}, "seed"),
        ({"logit_bias": {"50256": -100}}, "logit_bias"),
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"frequency_penalty": 0.5}, "frequency_penalty"),
        ({"some_new_field": 1}, "some_new_field"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "w"}}}, "response_format"),
        ({"temperature": 1.5}, "temperature"),
        ({"top_p": 2}, "top_p"),
        ({"stop": ["", "x"]}, "stop"),
        ({"parallel_tool_calls": False, "tools": [TOOL], "tool_choice": "required"}, "parallel_tool_calls"),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "hear"}, {"type": "input_audio"}]}
                ]
            },
            "messages[0].content[1]",
        ),
        ({"messages": [{"role": "assistant", "content": "hello"}, USER]}, "messages"),
        ({"messages": [USER, {"role": "function", "name": "f", "content": "1"}]}, "messages[1].role"),
        ({"messages": [USER, {"role": "assistant", "content": None, "tool_calls": [CALL]}]}, "tools"),
        ({"tools": [{"type": "code_interpreter"}]}, "tools[0]"),
        (
            {"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "other"}}},
            "tool_choice",
        ),
        ({"tool_choice": "auto"}, "tool_choice"),
        (
            {
                "tools": [TOOL],
                "messages": [
                    USER,
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [{**CALL, "function": {"name": "lookup", "arguments": "[1]"}}],
                    },
                ],
            },
            "messages[1].tool_calls[0].function.arguments",
        ),
        (
            {
                "tools": [TOOL],
                "tool_choice": "none",
                "messages": [USER, {"role": "assistant", "content": None, "tool_calls": [CALL]}],
            },
            "tool_choice",
        ),
    ],
)
def test_what_converse_cannot_take_is_refused_naming_the_field_and_the_route(body, param):
    request = chat_request(body)

    with pytest.raises(InvalidRequest) as raised:
        PROVIDER.check(request)

    assert raised.value.status == 400
    assert raised.value.param == param
    assert "claude-bedrock" in raised.value.message and param in raised.value.message


def test_a_json_schema_becomes_converse_output_config_with_the_schema_as_json_text():
    # Given a chat asking for a named, described JSON schema
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    definition = {"name": "weather", "description": "Today's weather", "schema": schema, "strict": True}
    request = chat_request({"response_format": {"type": "json_schema", "json_schema": definition}})

    # When it is built for Converse
    arguments = converse.build(request, ROUTE)

    # Then Converse's structured output carries it, the schema as the JSON text botocore's model asks for
    text_format = arguments["outputConfig"]["textFormat"]
    assert text_format["type"] == "json_schema"
    sent = text_format["structure"]["jsonSchema"]
    assert (sent["name"], sent["description"], json.loads(sent["schema"])) == (
        "weather",
        "Today's weather",
        schema,
    )


@pytest.mark.parametrize(
    "model",
    [
        "anthropic.claude-3-haiku-20240307-v1:0",
        "us.anthropic.claude-sonnet-4-5-v1:0",
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/global.anthropic.claude-opus-4-8",
    ],
)
def test_one_tool_call_at_a_time_is_claudes_own_flag_on_bedrock(model):
    # Given a Codex-like request forbidding parallel tool calls, for a Claude model on Bedrock
    request = chat_request({"tools": [TOOL], "parallel_tool_calls": False})

    # When it is built for Converse
    arguments = converse.build(request, Route(name="claude-bedrock", provider="bedrock", model=model))

    # Then Anthropic's flag travels as an additional model field, beside Converse's own tool config
    assert arguments["additionalModelRequestFields"] == {
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": True}
    }
    assert "toolChoice" not in arguments["toolConfig"]


def test_one_tool_call_at_a_time_is_refused_for_models_that_cannot_be_told_and_ignored_without_tools():
    nova = Route(name="nova", provider="bedrock", model="us.amazon.nova-lite-v1:0")
    with pytest.raises(InvalidRequest) as raised:
        converse.build(chat_request({"tools": [TOOL], "parallel_tool_calls": False}), nova)
    assert raised.value.param == "parallel_tool_calls" and "nova" in raised.value.message

    assert "additionalModelRequestFields" not in converse.build(
        chat_request({"parallel_tool_calls": False}), nova
    )


def test_json_mode_with_tools_and_one_call_at_a_time_names_json_mode_in_its_400():
    request = chat_request(
        {"response_format": {"type": "json_object"}, "tools": [TOOL], "parallel_tool_calls": False}
    )
    with pytest.raises(InvalidRequest) as raised:
        converse.build(request, ROUTE)
    assert raised.value.param == "parallel_tool_calls" and "JSON mode and tools" in raised.value.message


def test_json_mode_is_a_forced_tool_on_converse():
    arguments = converse.build(chat_request({"response_format": {"type": "json_object"}}), ROUTE)

    assert arguments["toolConfig"]["toolChoice"] == {"tool": {"name": "json_answer"}}
    assert [tool["toolSpec"]["name"] for tool in arguments["toolConfig"]["tools"]] == ["json_answer"]
    assert "outputConfig" not in arguments
    assert "additionalModelRequestFields" not in arguments  # one forced tool: only its first call is read


PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def image(url):
    return {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}


def test_a_data_url_image_is_sent_as_its_bytes_and_may_stand_alone():
    # Given a user message holding only an image, as a data: URL
    request = chat_request({"messages": [image(f"data:image/png;base64,{PIXEL}")]})
    # When it is built for Converse
    arguments = converse.build(request, ROUTE)
    # Then the image block carries the decoded bytes (boto3 encodes them on the wire)
    block = arguments["messages"][0]["content"][0]["image"]
    assert block == {"format": "png", "source": {"bytes": base64.b64decode(PIXEL)}}


@pytest.mark.parametrize("url", ["https://example.com/cat.png", "data:image/png;base64,not*base64"])
def test_an_image_bedrock_cannot_take_is_refused_naming_the_field_and_the_route(url):
    # Given an https image (the gateway never fetches a caller's URL) or a data: URL that is not base64
    request = chat_request({"messages": [image(url)]})
    # When the route's provider checks it
    with pytest.raises(InvalidRequest) as raised:
        PROVIDER.check(request)
    # Then it is a 400 naming the part's URL and the route
    assert raised.value.param == "messages[0].content[0].image_url.url"
    assert "claude-bedrock" in raised.value.message


@pytest.mark.parametrize("field", ["suffix", "best_of", "echo", "tools"])
def test_legacy_completion_fields_without_a_mapping_are_refused(field):
    value = {"tools": [TOOL], "suffix": "the end"}.get(field, 1)  # of the type OpenAI documents
    request = parse_completion({"prompt": "Once", field: value}, SETTINGS)

    with pytest.raises(InvalidRequest) as raised:
        PROVIDER.check(request)

    assert raised.value.param == field


def test_what_has_a_mapping_or_changes_nothing_passes_the_check():
    request = chat_request(
        {
            "tools": [TOOL],
            "tool_choice": "required",
            "parallel_tool_calls": True,
            "response_format": {"type": "text"},
            "user": "someone",
            "stop": "END",
            "top_p": 0.5,
            "temperature": 0.7,
            "messages": [{"role": "developer", "content": "Be brief."}, USER],
        }
    )

    PROVIDER.check(request)
    arguments = converse.build(request, ROUTE)

    assert arguments["toolConfig"]["toolChoice"] == {"any": {}}
    assert arguments["system"] == [{"text": "Be brief."}]
    assert arguments["inferenceConfig"] == {
        "maxTokens": 500,
        "temperature": 0.7,
        "topP": 0.5,
        "stopSequences": ["END"],
    }
    assert set(arguments) == {"modelId", "system", "messages", "inferenceConfig", "toolConfig"}  # no "user"


def test_tool_choice_none_without_tool_history_offers_no_tools():
    arguments = converse.build(chat_request({"tools": [TOOL], "tool_choice": "none"}), ROUTE)

    assert "toolConfig" not in arguments


def test_blank_texts_are_left_out_and_an_empty_tool_result_is_said_in_words():
    request = chat_request(
        {
            "tools": [TOOL],
            "messages": [
                {"role": "system", "content": "  "},
                {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "go"}]},
                {"role": "assistant", "content": "", "tool_calls": [CALL]},
                {"role": "tool", "tool_call_id": "call_1", "content": ""},
            ],
        }
    )

    arguments = converse.build(request, ROUTE)

    assert "system" not in arguments
    assert arguments["messages"][0] == {"role": "user", "content": [{"text": "go"}]}
    assert arguments["messages"][1]["content"] == [
        {"toolUse": {"toolUseId": "call_1", "name": "lookup", "input": {}}}
    ]
    assert arguments["messages"][2]["content"][0]["toolResult"]["content"] == [{"text": "(no output)"}]


def answer(stop_reason, *blocks, usage=None):
    return {
        "output": {"message": {"role": "assistant", "content": list(blocks) or [{"text": "x"}]}},
        "stopReason": stop_reason,
        "usage": usage if usage is not None else {"inputTokens": 3, "outputTokens": 1, "totalTokens": 4},
    }


CHAT = ModelRequest(kind="chat", model="claude-bedrock", max_tokens=10, messages=(USER,))


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
        ("a_reason_added_later", "stop"),
    ],
)
def test_stop_reasons_become_finish_reasons(stop_reason, finish_reason):
    body = converse_reply.parse(answer(stop_reason), CHAT, ROUTE)

    assert body["choices"][0]["finish_reason"] == finish_reason
    assert body["model"] == ROUTE.model  # the model id Bedrock was called with


@pytest.mark.parametrize("stop_reason", ["malformed_model_output", "malformed_tool_use"])
def test_a_malformed_answer_is_a_502(stop_reason):
    with pytest.raises(UpstreamError, match=stop_reason):
        converse_reply.parse(answer(stop_reason), CHAT, ROUTE)


def test_text_blocks_are_joined_and_other_blocks_skipped():
    body = converse_reply.parse(
        answer(
            "end_turn", {"reasoningContent": {"reasoningText": {"text": "hmm"}}}, {"text": "a"}, {"text": "b"}
        ),
        CHAT,
        ROUTE,
    )

    assert body["choices"][0]["message"] == {"role": "assistant", "content": "ab"}


def test_prompt_cache_tokens_are_prompt_tokens_and_reach_openais_usage_details():
    # Given a Converse answer that read 30 prompt tokens from the cache and wrote 20 to it
    answer = {
        "output": {"message": {"role": "assistant", "content": [{"text": "Hi"}]}},
        "stopReason": "end_turn",
        "usage": {
            "inputTokens": 10,
            "outputTokens": 2,
            "cacheReadInputTokens": 30,
            "cacheWriteInputTokens": 20,
        },
    }
    # When it becomes the OpenAI body
    usage = converse_reply.parse(answer, chat_request({}), ROUTE)["usage"]
    # Then every billed prompt token counts, and the details say which were the cache's
    assert usage == {
        "prompt_tokens": 60,
        "completion_tokens": 2,
        "total_tokens": 62,
        "prompt_tokens_details": {"cached_tokens": 30, "cache_write_tokens": 20},
    }


def test_usage_in_an_odd_shape_is_left_for_the_gateway_to_estimate():
    body = converse_reply.parse(answer("end_turn", usage={"inputTokens": "3"}), CHAT, ROUTE)

    assert "usage" not in body

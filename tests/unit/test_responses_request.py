"""`POST /v1/responses` bodies: checked, translated to the neutral chat request, and, for a route that speaks
the Responses API itself, kept as the caller wrote them (lib/apis/openai_responses*.py)."""

import pytest

from lib.apis.openai_responses import neutral_request, parse_responses, with_native
from lib.apis.openai_responses_fields import in_responses_terms
from lib.platform.config import Settings
from lib.platform.errors import InvalidRequest

SETTINGS = Settings(max_prompt_chars=10_000)
TOOL = {"type": "function", "name": "lookup", "description": "Find a word.", "parameters": {"type": "object"}}


def translate(body, history=(), settings=SETTINGS):
    call = parse_responses(body, settings)
    request, untranslatable = neutral_request(call, list(history), settings)
    return call, request, untranslatable


def test_a_string_input_with_instructions_is_a_system_and_a_user_message():
    call, request, untranslatable = translate({"model": "m", "input": "Hi", "instructions": "Be brief."})

    assert request.messages == ({"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"})
    assert call.items[0]["type"] == "message" and call.items[0]["id"].startswith("msg_")
    assert call.items[0]["content"] == [{"type": "input_text", "text": "Hi"}]
    assert untranslatable == [] and call.store is True and request.kind == "chat"


def test_items_become_chat_messages_function_calls_join_the_assistant_turn_and_reasoning_is_left_out():
    body = {
        "input": [
            {"role": "developer", "content": [{"type": "input_text", "text": "Rules."}]},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Look"},
                    {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
                ],
            },
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Looking."}],
            },
            {"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": '{"w": "x"}'},
            {"type": "function_call_output", "call_id": "c1", "output": "found"},
        ]
    }

    _, request, untranslatable = translate(body)

    assert request.messages == (
        {"role": "developer", "content": "Rules."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ],
        },
        {
            "role": "assistant",
            "content": "Looking.",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": '{"w": "x"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "found"},
    )
    assert untranslatable == []


def test_tools_tool_choice_text_format_and_sampling_are_translated_and_hints_are_not_sent():
    body = {
        "input": "Hi",
        "tools": [TOOL],
        "tool_choice": {"type": "function", "name": "lookup"},
        "parallel_tool_calls": False,
        "text": {
            "format": {"type": "json_schema", "name": "Answer", "schema": {"type": "object"}, "strict": True},
            "verbosity": "low",
        },
        "top_p": 0.5,
        "user": "u-1",
        "max_output_tokens": 64,
        "temperature": 0.5,
        "reasoning": {"effort": "low"},
        "prompt_cache_key": "k",
        "truncation": "auto",
        "logit_bias": {"50256": -100},
    }

    _, request, _ = translate(body)

    assert dict(request.extra) == {
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "lookup",
                    "description": "Find a word.",
                    "parameters": {"type": "object"},
                },
            }
        ],
        "tool_choice": {"type": "function", "function": {"name": "lookup"}},
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "Answer", "schema": {"type": "object"}, "strict": True},
        },
        "top_p": 0.5,
        "parallel_tool_calls": False,
        "user": "u-1",
        "logit_bias": {"50256": -100},  # an unknown field follows chat's rule: passed on
    }
    assert (request.max_tokens, request.temperature) == (64, 0.5)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "Hi", "tools": [{"type": "web_search"}]}, "tools[0]"),
        ({"input": "Hi", "include": ["message.output_text.logprobs"]}, "include[0]"),
        ({"input": "Hi", "prompt": {"id": "pmpt_1"}}, "prompt"),
        ({"input": "Hi", "top_logprobs": 3}, "top_logprobs"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0]"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "file-1"}]}]},
            "input[0].content[0]",
        ),
        ({"input": "Hi", "tool_choice": {"type": "web_search_preview"}}, "tool_choice"),
    ],
)
def test_what_chat_cannot_say_is_named_for_a_400_unless_the_route_passes_it_through(body, param):
    _, _, untranslatable = translate(body)

    assert untranslatable[0].param == param
    error = untranslatable[0].error()
    assert error.status == 400 and error.param == param and "Responses API itself" in error.message


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "Hi", "background": True}, "background"),
        ({"input": "Hi", "conversation": "conv_1"}, "conversation"),
        ({"messages": [{"role": "user", "content": "Hi"}]}, "messages"),
        ({"input": "Hi", "max_tokens": 5}, "max_tokens"),
        ({"input": ""}, "input"),
        ({"input": [{"role": "robot", "content": "Hi"}]}, "input[0].role"),
        (
            {"input": [{"type": "function_call", "call_id": "c", "name": "", "arguments": "{}"}]},
            "input[0].name",
        ),
        ({"input": "Hi", "metadata": {"k": "v" * 513}}, "metadata"),
        ({"input": "Hi", "store": "yes"}, "store"),
        ({"input": "Hi", "text": {"format": {"type": "json_schema", "schema": {}}}}, "text.format.name"),
        ({"input": "Hi", "tools": [{"type": "function"}]}, "tools[0].name"),
        ({"input": "Hi", "max_output_tokens": 0}, "max_output_tokens"),
        ({"input": "Hi", "include": "all"}, "include"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(body, param):
    with pytest.raises(InvalidRequest) as error:
        translate(body)

    assert error.value.param == param


def test_the_stored_conversation_comes_first_and_counts_toward_the_prompt_limit():
    history = [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "x" * 60}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "y" * 60}]},
    ]

    _, request, _ = translate({"input": "Next?"}, history)
    with pytest.raises(InvalidRequest) as error:
        translate({"input": "Next?"}, history, Settings(max_prompt_chars=100))

    assert [message["role"] for message in request.messages] == ["user", "assistant", "user"]
    assert request.prompt_chars == 125 and request.input_chars >= 125
    assert error.value.code == "prompt_too_long" and error.value.param == "input"
    assert error.value.message == (
        "the prompt is 125 characters (the text of the whole conversation sent, earlier turns included); "
        "the limit is 100 (MAX_PROMPT_CHARS)"
    )


def test_a_passing_through_route_gets_the_body_with_the_conversation_and_without_the_gateways_fields():
    history = [
        {
            "id": "msg_a",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "One"}],
            "status": "completed",
        },
        {"id": "rs_a", "type": "reasoning", "summary": []},
        {"id": "rs_b", "type": "reasoning", "summary": [], "encrypted_content": "gAAA"},
        {
            "id": "msg_b",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Two", "annotations": []}],
            "status": "completed",
        },
    ]
    body = {
        "model": "gpt",
        "input": "Three",
        "store": True,
        "previous_response_id": "resp_x",
        "metadata": {"k": "v"},
        "stream": True,
        "tools": [{"type": "web_search"}],
        "reasoning": {"effort": "high"},
    }
    call, request, _ = translate({k: v for k, v in body.items() if k != "previous_response_id"}, history)

    native = with_native(request, call._replace(body=body), history, SETTINGS).native

    assert native is not None and native.api == "responses"
    assert set(native.body) == {"model", "input", "tools", "reasoning"}
    assert native.body["input"] == [
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "One"}],
            "status": "completed",
        },
        history[2],  # a reasoning item is resent only with its encrypted content (the provider keeps nothing)
        history[3],
        {"role": "user", "content": "Three"},
    ]


def test_a_providers_refusal_of_the_translation_names_the_responses_fields():
    error = InvalidRequest(
        "response_format is not supported by route 'claude' (anthropic)", param="response_format"
    )

    renamed = in_responses_terms(error)

    assert renamed.param == "text.format" and renamed.message.startswith("text.format is not supported")
    assert in_responses_terms(InvalidRequest("x", param="tools[2].function.name")).param == "tools[2].name"
    assert in_responses_terms(InvalidRequest("x", param="messages[3].content")).param == "input.content"


def test_what_only_a_passing_through_route_reads_is_reserved_for_it():
    # Given a turn carrying a reasoning item with its encrypted content, which chat cannot say, and
    # the same turn without it
    reasoning = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "e" * 3000}
    plain = {"model": "m", "input": [{"role": "user", "content": "Hi"}], "tools": [TOOL]}
    rich = {**plain, "input": [reasoning, *plain["input"]]}

    def reserved(body, *, native):
        call, request, _ = translate(body)
        return (with_native(request, call, [], SETTINGS) if native else request).input_tokens

    # When each is reserved for a route that passes it through, and for one that translates it
    # Then the passing-through route's bound covers every character of what only it is sent
    assert reserved(rich, native=True) - reserved(plain, native=True) > len(reasoning["encrypted_content"])
    assert reserved(rich, native=False) == reserved(plain, native=False)  # chat is not sent it

import base64

import pytest

from lib.apis.generate import parse_generate
from lib.apis.openai_requests import parse_chat, parse_completion
from lib.core.token_estimate import (
    MESSAGE_TOKENS,
    REQUEST_TOKENS,
    STRUCTURED_OUTPUT_TOKENS,
    TOOL_CALL_TOKENS,
    TOOL_TOKENS,
    TOOLS_TOKENS,
    json_tokens,
)
from lib.platform.config import ConfigError, load_settings
from lib.platform.errors import InvalidRequest, PayloadTooLarge
from lib.stages.request_body import parse_json_body

SETTINGS = load_settings({"AUTH_MODE": "none", "AI_MODEL_NAME": "default-model"})


def settings(**overrides):
    return load_settings({"AUTH_MODE": "none", "AI_MODEL_NAME": "default-model", **overrides})


class TestBody:
    def test_plain_and_base64_bodies_parse_alike(self):
        raw = '{"prompt": "héllo"}'
        assert parse_json_body(raw, False, 1024) == {"prompt": "héllo"}
        encoded = base64.b64encode(raw.encode()).decode()
        assert parse_json_body(encoded, True, 1024) == {"prompt": "héllo"}

    @pytest.mark.parametrize(
        ("raw", "is_base64", "code"),
        [
            (None, False, "missing_body"),
            ("", False, "missing_body"),
            ("{not json", False, "invalid_json"),
            ("[1, 2]", False, "invalid_json"),
            ('"just a string"', False, "invalid_json"),
            ("!!!not-base64!!!", True, "invalid_body"),
            (base64.b64encode(b"\xff\xfe\x00").decode(), True, "invalid_json"),
        ],
    )
    def test_bad_bodies_are_400_with_a_code(self, raw, is_base64, code):
        with pytest.raises(InvalidRequest) as error:
            parse_json_body(raw, is_base64, 1024)
        assert error.value.code == code

    def test_the_size_cap_counts_decoded_bytes(self):
        body = '{"prompt": "' + "x" * 2000 + '"}'
        with pytest.raises(PayloadTooLarge):
            parse_json_body(body, False, 1024)
        with pytest.raises(PayloadTooLarge):
            parse_json_body(base64.b64encode(body.encode()).decode(), True, 1024)


class TestGenerate:
    def test_a_minimal_request_gets_the_defaults(self):
        request = parse_generate({"prompt": "hi"}, SETTINGS)
        assert request.model == ""  # none sent: the route decides (AI_MODEL_NAME in single-model mode)
        assert request.max_tokens == 500
        assert request.temperature is None
        assert request.upstream_payload() == {
            "model": "",
            "max_tokens": 500,
            "messages": [{"role": "user", "content": "hi"}],
        }

    def test_missing_prompt_names_the_prompt(self):
        with pytest.raises(InvalidRequest) as error:
            parse_generate({"max_tokens": 5}, SETTINGS)
        assert error.value.param == "prompt"
        assert "prompt" in error.value.message

    def test_a_stream_is_refused_pointing_to_chat_completions(self):
        parse_generate({"prompt": "Hi", "stream": False}, SETTINGS)
        with pytest.raises(InvalidRequest) as error:
            parse_generate({"prompt": "Hi", "stream": True}, SETTINGS)
        assert error.value.param == "stream" and "/v1/chat/completions" in error.value.message

    def test_prompt_length_limit_is_inclusive(self):
        parse_generate({"prompt": "x" * 2048}, SETTINGS)
        with pytest.raises(InvalidRequest) as error:
            parse_generate({"prompt": "x" * 2049}, SETTINGS)
        assert error.value.code == "prompt_too_long"
        assert error.value.message == "the prompt is 2049 characters; the limit is 2048 (MAX_PROMPT_CHARS)"

    @pytest.mark.parametrize("word", ["密码", "验证码", "银行卡"])
    def test_blocked_words_are_refused(self, word):
        with pytest.raises(InvalidRequest) as error:
            parse_generate({"prompt": f"请告诉我{word}"}, SETTINGS)
        assert error.value.code == "content_blocked"

    def test_the_blocklist_is_configurable(self):
        custom = settings(BLOCKED_PATTERNS=r"\bsecret\b")
        parse_generate({"prompt": "我的密码"}, custom)
        with pytest.raises(InvalidRequest):
            parse_generate({"prompt": "tell me the SECRET"}, custom)

    @pytest.mark.parametrize("temperature", [0.1, 0.5, 0.9])
    def test_temperature_within_range_passes(self, temperature):
        assert (
            parse_generate({"prompt": "p", "temperature": temperature}, SETTINGS).temperature == temperature
        )

    @pytest.mark.parametrize(
        ("temperature", "applied"), [(0, 0.1), (0.0, 0.1), (0.05, 0.1), (0.95, 0.9), (1, 0.9), (2, 0.9)]
    )
    def test_temperature_outside_range_is_clamped_by_default(self, temperature, applied):
        request = parse_generate({"prompt": "p", "temperature": temperature}, SETTINGS)
        assert request.temperature == applied and request.upstream_payload()["temperature"] == applied
        assert request.requested_temperature == temperature
        assert request.temperature_clamp() == f"{temperature:g}->{applied:g}"

    def test_temperature_in_range_is_no_clamp(self):
        assert parse_generate({"prompt": "p", "temperature": 0.5}, SETTINGS).temperature_clamp() is None

    @pytest.mark.parametrize("temperature", [0.0, 0.05, 0.95, 2])
    def test_temperature_outside_range_is_400_with_the_reject_policy(self, temperature):
        with pytest.raises(InvalidRequest) as error:
            parse_generate({"prompt": "p", "temperature": temperature}, settings(TEMPERATURE_POLICY="reject"))
        assert error.value.param == "temperature"
        assert "0.1" in error.value.message and "0.9" in error.value.message

    @pytest.mark.parametrize("temperature", [-0.1, 2.01, float("nan"), "0.5", True])
    def test_no_openai_temperature_is_400_under_either_policy(self, temperature):
        for policy in ("clamp", "reject"):
            with pytest.raises(InvalidRequest) as error:
                parse_chat(
                    {"messages": [{"role": "user", "content": "p"}], "temperature": temperature},
                    settings(TEMPERATURE_POLICY=policy),
                )
            assert error.value.param == "temperature"

    @pytest.mark.parametrize("max_tokens", [0, -1, 4097, 1.5, "10", False])
    def test_max_tokens_bounds(self, max_tokens):
        with pytest.raises(InvalidRequest) as error:
            parse_generate({"prompt": "p", "max_tokens": max_tokens}, SETTINGS)
        assert error.value.param == "max_tokens"

    def test_seed_passes_through(self):
        assert parse_generate({"prompt": "p", "seed": 42}, SETTINGS).upstream_payload()["seed"] == 42
        with pytest.raises(InvalidRequest):
            parse_generate({"prompt": "p", "seed": "42"}, SETTINGS)
        with pytest.raises(InvalidRequest):
            parse_generate({"prompt": "p", "seed": 2**64}, SETTINGS)

    def test_system_prompt_is_put_first(self):
        request = parse_generate({"prompt": "p"}, settings(SYSTEM_PROMPT="Be brief."))
        assert request.upstream_payload()["messages"] == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "p"},
        ]


class TestChat:
    def test_all_message_contents_count_toward_the_limit(self):
        messages = [
            {"role": "user", "content": "x" * 1000},
            {"role": "assistant", "content": "y" * 1000},
            {"role": "user", "content": [{"type": "text", "text": "z" * 49}]},
        ]
        with pytest.raises(InvalidRequest) as error:
            parse_chat({"messages": messages}, SETTINGS)
        assert error.value.code == "prompt_too_long"
        assert "2049" in error.value.message

    def test_blocked_words_in_any_message_part(self):
        messages = [{"role": "user", "content": [{"type": "text", "text": "银行卡"}]}]
        with pytest.raises(InvalidRequest):
            parse_chat({"messages": messages}, SETTINGS)

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"messages": []},
            {"messages": "hi"},
            {"messages": ["hi"]},
            {"messages": [{"role": "wizard", "content": "x"}]},
            {"messages": [{"role": "user", "content": 5}]},
            {"messages": [{"role": ["user"], "content": "x"}]},  # found by fuzzing: was a 500
            {"messages": [{"role": {"user": 1}, "content": "x"}]},
        ],
    )
    def test_malformed_messages_are_400(self, body):
        with pytest.raises(InvalidRequest):
            parse_chat(body, SETTINGS)

    @pytest.mark.parametrize("include_usage", ["no", 1, {"a": 1}, []])
    def test_include_usage_must_be_a_boolean_like_stream(self, include_usage):
        body = {"messages": [{"role": "user", "content": "hi"}], "stream": True}
        with pytest.raises(InvalidRequest) as error:
            parse_chat({**body, "stream_options": {"include_usage": include_usage}}, SETTINGS)
        assert error.value.param == "stream_options.include_usage"
        assert parse_chat({**body, "stream_options": {"include_usage": True}}, SETTINGS).include_usage

    def test_unknown_openai_fields_pass_through_and_controlled_ones_do_not(self):
        body = {
            "messages": [{"role": "user", "content": "hi"}],
            "top_p": 0.5,
            "tools": [],
            "stream": True,
            "max_completion_tokens": 20,
        }
        request = parse_chat(body, SETTINGS)
        payload = request.upstream_payload()
        assert payload["top_p"] == 0.5 and payload["tools"] == []
        assert "stream" not in payload and payload["max_tokens"] == 20
        assert request.stream

    def test_a_parts_text_that_is_not_a_string_is_refused(self):
        # Found by make fuzz (schemathesis): a part of another type with "text": 123 was accepted
        content = [{"type": "text", "text": "hi"}, {"type": "input_audio", "text": 123}]
        with pytest.raises(InvalidRequest) as error:
            parse_chat({"messages": [{"role": "user", "content": content}]}, SETTINGS)
        assert error.value.param == "messages[0].content[1].text"

    def test_max_tokens_beside_max_completion_tokens_is_still_checked(self):
        # Found by make fuzz (schemathesis): an out-of-range max_tokens was accepted beside a valid
        # max_completion_tokens, which the schema refuses
        body = {"messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 20}
        with pytest.raises(InvalidRequest) as error:
            parse_chat({**body, "max_tokens": 0}, SETTINGS)
        assert error.value.param == "max_tokens"
        assert parse_chat({**body, "max_tokens": 30}, SETTINGS).max_tokens == 20  # the newer field wins

    def test_more_than_one_choice_is_refused(self):
        with pytest.raises(InvalidRequest) as error:
            parse_chat({"messages": [{"role": "user", "content": "hi"}], "n": 3}, SETTINGS)
        assert error.value.param == "n"

    def test_system_prompt_comes_before_the_callers_messages(self):
        request = parse_chat(
            {"messages": [{"role": "system", "content": "mine"}, {"role": "user", "content": "q"}]},
            settings(SYSTEM_PROMPT="fixed"),
        )
        assert [m["content"] for m in request.messages] == ["fixed", "mine", "q"]


class TestCompletion:
    def test_a_one_element_prompt_list_is_accepted(self):
        assert parse_completion({"prompt": ["hello"]}, SETTINGS).prompt == "hello"

    def test_several_prompts_are_refused(self):
        with pytest.raises(InvalidRequest):
            parse_completion({"prompt": ["a", "b"]}, SETTINGS)

    def test_system_prompt_is_prefixed_to_the_text(self):
        request = parse_completion({"prompt": "q"}, settings(SYSTEM_PROMPT="fixed"))
        assert request.upstream_payload()["prompt"] == "fixed\n\nq"


TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


class TestPassedThroughFields:
    """Every text sent upstream counts toward MAX_INPUT_CHARS and the budget's reservation."""

    def test_tools_and_schemas_count_toward_the_reservation(self):
        plain = parse_chat({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 10}, SETTINGS)
        assert plain.reserved_tokens == REQUEST_TOKENS + MESSAGE_TOKENS + 2 + 10
        with_tools = parse_chat(
            {
                "messages": [{"role": "user", "content": "hi"}],
                "max_tokens": 10,
                "tools": [TOOL],
                "response_format": {"type": "json_schema", "json_schema": {"name": "answer"}},
                "stop": ["END"],
            },
            SETTINGS,
        )
        tool_text = sum(
            len(text)
            for text in (
                "type",
                "function",
                "function",
                "name",
                "get_weather",
                "description",
                "Weather for a city",
                "parameters",
                "type",
                "object",
                "properties",
                "city",
                "type",
                "string",
            )
        )
        schema_text = len("typejson_schemajson_schemanameanswer")
        added = with_tools.reserved_tokens - plain.reserved_tokens
        # Their JSON text (more than the strings in it), the tool's framing, the tool-use prompt and the
        # prompt a provider adds to explain a schema's format
        assert added == (
            TOOLS_TOKENS
            + TOOL_TOKENS
            + json_tokens(TOOL)
            + json_tokens(with_tools.extra["response_format"])
            + STRUCTURED_OUTPUT_TOKENS
            + json_tokens(["END"])
        )
        assert added > TOOLS_TOKENS + tool_text + schema_text + len("END")

    def test_message_names_and_tool_call_arguments_count(self):
        arguments = '{"city": "' + "x" * 500 + '"}'
        request = parse_chat(
            {
                "messages": [
                    {"role": "user", "content": "hi", "name": "alice"},
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "f", "arguments": arguments},
                            }
                        ],
                    },
                    {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
                ],
                "max_tokens": 1,
            },
            SETTINGS,
        )
        expected = len("hialicec1functionfc1sunny") + len(arguments)
        assert request.input_chars == expected
        assert (
            request.reserved_tokens >= REQUEST_TOKENS + 3 * MESSAGE_TOKENS + TOOL_CALL_TOKENS + expected + 1
        )

    def test_legacy_suffix_and_stop_count(self):
        request = parse_completion(
            {"prompt": "abc", "suffix": "x" * 100, "stop": "yy", "max_tokens": 1}, SETTINGS
        )
        assert request.reserved_tokens == REQUEST_TOKENS + 3 + 100 + 2 + 1

    def test_the_system_prompt_counts_toward_the_reservation_but_not_the_limits(self):
        request = parse_generate({"prompt": "abc", "max_tokens": 1}, settings(SYSTEM_PROMPT="x" * 40))
        assert request.reserved_tokens == REQUEST_TOKENS + 2 * MESSAGE_TOKENS + 3 + 40 + 1

    def test_all_text_together_has_its_own_limit(self):
        small = settings(MAX_INPUT_CHARS="3000")
        big_tool = {**TOOL, "function": {**TOOL["function"], "description": "d" * 3000}}
        with pytest.raises(InvalidRequest) as error:
            parse_chat({"messages": [{"role": "user", "content": "hi"}], "tools": [big_tool]}, small)
        assert error.value.code == "input_too_long" and error.value.param == "tools"
        assert "3000" in error.value.message
        # The message text alone keeps its own (smaller) limit.
        with pytest.raises(InvalidRequest) as error:
            parse_chat({"messages": [{"role": "user", "content": "x" * 2049}]}, small)
        assert error.value.code == "prompt_too_long"

    def test_the_default_limit_admits_an_ordinary_function_calling_request(self):
        tools = [
            {
                **TOOL,
                "function": {**TOOL["function"], "name": f"tool_{index}", "description": "d" * 1000},
            }
            for index in range(20)
        ]
        request = parse_chat(
            {"messages": [{"role": "user", "content": "x" * 2000}], "tools": tools}, SETTINGS
        )
        assert request.input_chars > 22_000

    def test_max_input_chars_below_max_prompt_chars_is_a_configuration_error(self):
        with pytest.raises(ConfigError) as error:
            settings(MAX_PROMPT_CHARS="5000", MAX_INPUT_CHARS="4000")
        assert error.value.variable == "MAX_INPUT_CHARS"

    @pytest.mark.parametrize("best_of", [0, 2, 20, "1", 1.0])
    def test_best_of_other_than_one_is_refused_like_n(self, best_of):
        for parse, body in (
            (parse_completion, {"prompt": "p"}),
            (parse_chat, {"messages": [{"role": "user", "content": "p"}]}),
        ):
            with pytest.raises(InvalidRequest) as error:
                parse({**body, "best_of": best_of}, SETTINGS)
            assert error.value.param == "best_of"
        assert parse_completion({"prompt": "p", "best_of": 1}, SETTINGS).prompt == "p"

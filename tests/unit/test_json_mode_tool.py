"""OpenAI's JSON mode as a tool call for providers without one (lib/providers/json_mode_tool.py): the
request it becomes, the answer and the stream it gives back, and what the budget reserves for it."""

import json

import pytest

from lib.apis.openai_requests import parse_chat
from lib.core.pieces import StreamPiece
from lib.core.token_estimate import JSON_MODE_TOOL_TOKENS, json_tokens
from lib.platform.config import load_settings
from lib.platform.errors import InvalidRequest
from lib.providers import json_mode_tool
from lib.providers.json_mode_tool import TOOL_NAME, as_text, as_text_pieces, as_tool_request

SETTINGS = load_settings({"AUTH_MODE": "none"})
JSON_MODE = {"type": "json_object"}
LOOKUP = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
FORCED = {"type": "function", "function": {"name": TOOL_NAME}}


def chat(**fields):
    body = {"model": "m", "messages": [{"role": "user", "content": "JSON please"}], **fields}
    return parse_chat(body, SETTINGS)


def names(request):
    return [tool["function"]["name"] for tool in request.extra["tools"]]


class TestRequest:
    def test_without_tools_the_json_tool_is_forced_and_response_format_goes(self):
        request = as_tool_request(chat(response_format=JSON_MODE))
        assert names(request) == [TOOL_NAME] and request.extra["tool_choice"] == FORCED
        assert "response_format" not in request.extra

    @pytest.mark.parametrize("choice", [None, "auto"])
    def test_with_the_callers_tools_the_model_must_call_one_of_them_or_answer_in_json(self, choice):
        fields = {"tool_choice": choice} if choice else {}
        request = as_tool_request(chat(response_format=JSON_MODE, tools=[LOOKUP], **fields))
        assert names(request) == ["lookup", TOOL_NAME] and request.extra["tool_choice"] == "required"

    def test_the_forced_json_tool_is_one_call(self):
        request = as_tool_request(chat(response_format=JSON_MODE))
        assert request.extra["parallel_tool_calls"] is False and request.extra["tool_choice"] == FORCED

    def test_tool_choice_none_forces_the_json_tool_and_keeps_the_callers_listed(self):
        request = as_tool_request(chat(response_format=JSON_MODE, tools=[LOOKUP], tool_choice="none"))
        assert names(request) == ["lookup", TOOL_NAME] and request.extra["tool_choice"] == FORCED

    def test_a_tool_call_the_caller_requires_anyway_is_left_alone(self):
        request = as_tool_request(chat(response_format=JSON_MODE, tools=[LOOKUP], tool_choice="required"))
        assert names(request) == ["lookup"] and request.extra["tool_choice"] == "required"
        assert "response_format" not in request.extra

    def test_a_caller_tool_with_the_gateways_name_is_a_400(self):
        own = {"type": "function", "function": {"name": TOOL_NAME}}
        with pytest.raises(InvalidRequest) as raised:
            as_tool_request(chat(response_format=JSON_MODE, tools=[own]))
        assert raised.value.param == "tools" and TOOL_NAME in raised.value.message

    def test_other_requests_are_untouched(self):
        request = chat(response_format={"type": "text"}, tools=[LOOKUP])
        assert as_tool_request(request) is request


def call(index_or_id, name, arguments):
    return {
        "id": f"call_{index_or_id}",
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


class TestAnswer:
    def test_the_json_tools_call_is_the_answers_text(self):
        body = {
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [call(1, TOOL_NAME, '{"a": 1}')],
                    },
                    "finish_reason": "tool_calls",
                }
            ]
        }
        choice = as_text(body, chat(response_format=JSON_MODE))["choices"][0]
        assert choice == {
            "index": 0,
            "message": {"role": "assistant", "content": '{"a": 1}'},
            "finish_reason": "stop",
        }

    def test_only_the_first_json_call_is_the_answer_and_text_beside_it_is_not(self):
        # Given a model that wrote a preamble and called the JSON tool twice
        calls = [call(1, TOOL_NAME, '{"a": 1}'), call(2, TOOL_NAME, '{"b": 2}')]
        message = {"role": "assistant", "content": "Here is the JSON: ", "tool_calls": calls}
        body = {"choices": [{"message": message, "finish_reason": "tool_calls"}]}
        # Then the answer is the first call's JSON, which parses
        content = as_text(body, chat(response_format=JSON_MODE))["choices"][0]["message"]["content"]
        assert json.loads(content) == {"a": 1}

    def test_the_callers_own_tool_calls_stay_tool_calls(self):
        calls = [call(1, "lookup", "{}"), call(2, TOOL_NAME, '{"b": 2}')]
        body = {
            "choices": [
                {
                    "message": {"role": "assistant", "content": None, "tool_calls": calls},
                    "finish_reason": "tool_calls",
                }
            ]
        }
        choice = as_text(body, chat(response_format=JSON_MODE, tools=[LOOKUP]))["choices"][0]
        assert choice["message"]["content"] == '{"b": 2}'
        assert choice["message"]["tool_calls"] == [calls[0]] and choice["finish_reason"] == "tool_calls"


def stream_of(*calls, finish="tool_calls"):
    """A provider's stream: each call started, then its arguments in two deltas, then the finish."""
    pieces = [StreamPiece(role="assistant")]
    for index, (name, arguments) in enumerate(calls):
        head = {
            "index": index,
            "id": f"call_{index}",
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        pieces.append(StreamPiece(tool_calls=[head]))
        for part in (arguments[:3], arguments[3:]):
            pieces.append(StreamPiece(tool_calls=[{"index": index, "function": {"arguments": part}}]))
    pieces.append(StreamPiece(finish_reason=finish))
    return iter(pieces)


class TestStream:
    def test_the_json_tools_arguments_stream_as_text_and_the_finish_is_stop(self):
        pieces = list(as_text_pieces(stream_of((TOOL_NAME, '{"c": 3}')), chat(response_format=JSON_MODE)))
        assert "".join(piece.text for piece in pieces) == '{"c": 3}'
        assert all(piece.tool_calls is None for piece in pieces) and pieces[-1].finish_reason == "stop"

    def test_the_callers_calls_are_renumbered_from_0_and_keep_the_finish(self):
        stream = stream_of((TOOL_NAME, '{"d": 4}'), ("lookup", '{"q": "x"}'))
        pieces = list(as_text_pieces(stream, chat(response_format=JSON_MODE, tools=[LOOKUP])))
        calls = [delta for piece in pieces for delta in piece.tool_calls or []]
        assert {delta["index"] for delta in calls} == {0} and calls[0]["function"]["name"] == "lookup"
        assert "".join(delta["function"]["arguments"] for delta in calls) == '{"q": "x"}'
        assert (
            "".join(piece.text for piece in pieces) == '{"d": 4}' and pieces[-1].finish_reason == "tool_calls"
        )

    def test_text_beside_the_json_call_and_a_second_json_call_are_not_the_answer(self):
        stream = stream_of((TOOL_NAME, '{"f": 6}'), (TOOL_NAME, '{"g": 7}'))
        pieces = [StreamPiece(text="Here you go: "), *stream]
        text = "".join(piece.text for piece in as_text_pieces(iter(pieces), chat(response_format=JSON_MODE)))
        assert json.loads(text) == {"f": 6}

    def test_an_empty_json_input_streams_as_an_empty_object(self):
        # Given Anthropic's stream of an empty tool input: the call's start, then no argument text
        stream = stream_of((TOOL_NAME, ""))
        text = "".join(piece.text for piece in as_text_pieces(stream, chat(response_format=JSON_MODE)))
        assert text == "{}"

    def test_a_model_that_called_no_tool_keeps_its_text(self):
        pieces = [StreamPiece(text='{"h": '), StreamPiece(text="8}"), StreamPiece(finish_reason="stop")]
        out = list(as_text_pieces(iter(pieces), chat(response_format=JSON_MODE)))
        assert "".join(piece.text for piece in out) == '{"h": 8}' and out[-1].finish_reason == "stop"

    def test_a_reader_that_stops_early_closes_the_providers_stream(self):
        closed = []

        def provider_stream():
            try:
                yield from stream_of((TOOL_NAME, '{"e": 5}'))
            finally:
                closed.append(True)

        pieces = as_text_pieces(provider_stream(), chat(response_format=JSON_MODE))
        next(pieces)
        pieces.close()
        assert closed == [True]

    def test_other_streams_are_passed_as_they_are(self):
        stream = stream_of(("lookup", "{}"))
        assert as_text_pieces(stream, chat(tools=[LOOKUP])) is stream


def test_the_budget_reserves_the_json_tool_and_the_tool_use_prompt():
    # Given the JSON tool's definition and the choice forcing it fit the constant the estimate adds
    assert json_tokens(json_mode_tool._TOOL) + json_tokens(FORCED) <= JSON_MODE_TOOL_TOKENS
    # Then JSON mode reserves at least as much as the same request carrying that tool itself
    as_tool = as_tool_request(chat(response_format=JSON_MODE))
    assert chat(response_format=JSON_MODE).input_tokens >= as_tool.input_tokens
    assert json.loads(json.dumps(as_tool.extra["tools"])) == [json_mode_tool._TOOL]

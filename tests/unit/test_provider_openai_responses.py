"""An openai route that speaks the Responses API itself (lib/providers/openai_responses.py): the caller's
body sent on with the gateway's own fields, the answer read as the neutral one with the provider's
response beside it (its own fields only), its stream read event by event."""

import json

import pytest

from lib.core.request import ModelRequest, Native
from lib.platform.errors import UpstreamError
from lib.platform.route_table import Route
from lib.providers import openai_responses as wire
from lib.providers.upstream_stream import ServerEvent, StreamFault
from tests.support import fake_responses as responses

ROUTE = Route(
    name="gpt", provider="openai", model="gpt-5-mini", endpoint="http://127.0.0.1:9/v1", apis=("responses",)
)
BODY = {
    "model": "gpt",
    "input": "Hi",
    "tools": [{"type": "web_search"}],
    "temperature": 1.7,
    "include": ["reasoning.encrypted_content"],
}


def native_request(**fields):
    return ModelRequest(kind="chat", model="gpt", max_tokens=300, native=Native("responses", BODY), **fields)


def test_the_callers_body_is_sent_with_the_gateways_model_limit_temperature_and_store_false():
    path, payload = wire.build(native_request(temperature=0.9), ROUTE)

    assert path == "/responses"
    assert payload == {
        **BODY,
        "model": "gpt-5-mini",
        "max_output_tokens": 300,
        "temperature": 0.9,
        "store": False,
    }
    assert "temperature" not in wire.build(native_request(), ROUTE)[1]
    assert wire.build_stream(native_request(), ROUTE)[1]["stream"] is True


def test_the_answer_is_the_neutral_one_with_the_providers_own_fields_beside_it():
    answer = responses.response(
        responses.reasoning(),
        responses.message("Looking."),
        responses.function_call("call_1", "lookup", "{}"),
    )

    body = wire.parse(answer, native_request())

    message = body["choices"][0]["message"]
    assert message["content"] == "Looking." and message["tool_calls"][0]["id"] == "call_1"
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    assert body["usage"] == {"prompt_tokens": 21, "completion_tokens": 9, "total_tokens": 30}
    assert [item["type"] for item in body["native_response"]["output"]] == [
        "reasoning",
        "message",
        "function_call",
    ]
    assert "sk-upstream" not in json.dumps(body)  # a field the response object does not have is never kept


def test_a_cut_answer_finishes_as_length():
    body = wire.parse(responses.response(status="incomplete"), native_request())

    assert body["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize(
    "answer",
    [
        {"object": "chat.completion", "choices": []},
        {**responses.response(), "status": "failed"},
        {**responses.response(), "usage": {"input_tokens": -1, "output_tokens": 2}},
        {**responses.response(), "output": ["not an item"]},
    ],
)
def test_anything_else_is_an_upstream_error(answer):
    with pytest.raises(UpstreamError):
        wire.parse(answer, native_request())


def events(data: bytes) -> list[ServerEvent]:
    blocks = [block.split("\n") for block in data.decode().split("\n\n") if block]
    return [
        ServerEvent(name.removeprefix("event: "), payload.removeprefix("data: ")) for name, payload in blocks
    ]


def test_a_stream_is_read_into_pieces_that_carry_each_event():
    answer = responses.response(
        responses.message("Hi there"), responses.function_call("call_2", "lookup", '{"q":1}')
    )

    pieces = list(wire.parse_stream(events(responses.stream_events(answer)), native_request()))

    assert "".join(piece.text for piece in pieces) == "Hi there"
    calls = [call for piece in pieces for call in piece.tool_calls or []]
    assert (
        calls[0]["id"] == "call_2"
        and "".join(call["function"].get("arguments", "") for call in calls) == '{"q":1}'
    )
    assert pieces[-1].finish_reason == "tool_calls" and pieces[-1].usage == (21, 9)
    assert all(isinstance(piece.event, dict) for piece in pieces)


@pytest.mark.parametrize(
    "data",
    [
        responses.stream_events(responses.response(responses.message("one two three")), cut_after_deltas=2),
        b'event: error\ndata: {"type": "error", "message": "overloaded", "sequence_number": 0}\n\n',
        b"event: response.created\ndata: {not json\n\n",
    ],
    ids=["cut", "error event", "not JSON"],
)
def test_a_broken_stream_is_a_fault(data):
    with pytest.raises(StreamFault):
        list(wire.parse_stream(events(data), native_request()))


class Recorder:
    def __init__(self, name):
        self.name = name
        self.route = ROUTE
        self.client = object()
        self.calls = []

    def check(self, request):
        self.calls.append("check")

    def complete(self, request, deadline, stats):
        self.calls.append("complete")
        return {"by": self.name}


def test_the_route_passes_responses_requests_through_and_sends_anything_else_to_chat():
    chat = Recorder("chat")
    provider = wire.SpeaksResponses(chat)
    provider._native = Recorder("native")

    assert provider.complete(native_request(), None, None) == {"by": "native"}
    assert provider.complete(ModelRequest(kind="chat", model="gpt", max_tokens=5), None, None) == {
        "by": "chat"
    }
    assert provider.client is chat.client

"""The Responses API's stream (lib/apis/openai_responses_stream.py): OpenAI's event sequence, each event
numbered and valid against the `openai` SDK's own types; `response.failed` after a fault, never a clean
end; the response kept before its last event."""

import json

import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from lib.apis.openai_responses import neutral_request, parse_responses
from lib.apis.openai_responses_replies import Turn
from lib.apis.openai_responses_stream import ResponsesStream
from lib.core.answer import Usage
from lib.core.pieces import ChunkHeader, StreamPiece
from lib.platform.config import Settings
from lib.providers.openai_responses import NativePiece
from lib.providers.upstream_stream import StreamFault
from tests.support import fake_responses

EVENT = TypeAdapter(ResponseStreamEvent)
TURN = Turn("resp_" + "a" * 40, 1_760_000_000, "public-name", store=True)
USAGE = Usage(12, 5)


def stream_for(body=None, keep=lambda response: True):
    call = parse_responses(body or {"model": "m", "input": "Hi"}, Settings())
    request, _ = neutral_request(call, [], Settings())
    return ResponsesStream(call, TURN, keep), request


def run(pieces, *, fault=None, keep=lambda response: True):
    stream, request = stream_for(keep=keep)
    writer = stream.writer(request, ChunkHeader("chatcmpl-x", 1, "public-name"))
    data = writer.start() + b"".join(writer.piece(piece) for piece in pieces)
    data += writer.fail(fault) if fault else writer.end(USAGE)
    return events_of(data)


def events_of(data: bytes) -> list[dict]:
    events = []
    for block in data.decode().split("\n\n"):
        if block:
            name, payload = block.split("\n")
            event = json.loads(payload.removeprefix("data: "))
            assert name == f"event: {event['type']}"
            EVENT.validate_python(event)  # the SDK's own model of the event accepts it
            events.append(event)
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    return events


def kinds(events):
    return [event["type"].removeprefix("response.") for event in events]


def test_a_text_answer_is_openais_sequence_and_the_response_is_kept_before_the_last_event():
    kept = []

    events = run(
        [
            StreamPiece(role="assistant"),
            StreamPiece("Hel"),
            StreamPiece("lo"),
            StreamPiece(finish_reason="stop"),
        ],
        keep=lambda r: kept.append(r) or True,
    )

    assert kinds(events) == [
        "created", "in_progress", "output_item.added", "content_part.added", "output_text.delta",
        "output_text.delta", "output_text.done", "content_part.done", "output_item.done", "completed",
    ]  # fmt: skip
    final = Response.model_validate(events[-1]["response"])
    assert final.output_text == "Hello" and final.status == "completed" and final.store is True
    assert final.usage.total_tokens == 17 and final.model == "public-name" and final.id == TURN.response_id
    assert kept == [events[-1]["response"]]


def test_text_then_a_tool_call_closes_the_message_before_the_call_opens():
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": ""}}
    more = {"index": 0, "function": {"arguments": '{"q": 1}'}}

    events = run(
        [
            StreamPiece("Let me look."),
            StreamPiece(tool_calls=[call]),
            StreamPiece(tool_calls=[more]),
            StreamPiece(finish_reason="tool_calls"),
        ]
    )

    assert kinds(events)[5:] == [
        "output_text.done", "content_part.done", "output_item.done", "output_item.added",
        "function_call_arguments.delta", "function_call_arguments.done", "output_item.done", "completed",
    ]  # fmt: skip
    output = events[-1]["response"]["output"]
    assert [item["type"] for item in output] == ["message", "function_call"]
    assert output[1]["call_id"] == "call_1" and output[1]["arguments"] == '{"q": 1}'


def test_a_stream_that_breaks_off_ends_with_response_failed_and_nothing_is_kept():
    kept = []

    events = run([StreamPiece("Hel")], fault=StreamFault("cut", "the stream ended"), keep=kept.append)

    assert kinds(events)[-1] == "failed" and "completed" not in kinds(events)
    failed = events[-1]["response"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "server_error"
    assert "broke off" in failed["error"]["message"] and kept == []


def test_the_token_limit_ends_it_as_incomplete():
    events = run([StreamPiece("Once upon"), StreamPiece(finish_reason="length")])

    assert kinds(events)[-1] == "incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_a_response_that_could_not_be_kept_says_store_false():
    events = run([StreamPiece("Hi")], keep=lambda response: False)

    assert events[-1]["response"]["store"] is False


@pytest.mark.parametrize("with_call", [False, True])
def test_a_whole_answer_replays_as_the_same_sequence(with_call):
    message = {"role": "assistant", "content": "Let me look."}
    if with_call:
        message["tool_calls"] = [
            {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
        ]
    body = {
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if with_call else "stop"}]
    }
    stream, request = stream_for()

    events = events_of(stream.replay(body, request, USAGE))

    assert kinds(events)[:4] == ["created", "in_progress", "output_item.added", "content_part.added"]
    assert kinds(events)[-1] == "completed"
    assert ("function_call_arguments.done" in kinds(events)) is with_call
    assert events[-1]["response"]["output_text"] == "Let me look."


def test_a_passing_through_providers_events_are_sent_on_renumbered_and_its_output_kept_whole():
    answer = fake_responses.response(fake_responses.reasoning(), fake_responses.message("Hi there"))
    upstream = [
        json.loads(block.split("\ndata: ")[1])
        for block in fake_responses.stream_events(answer).decode().split("\n\n")
        if block
    ]

    events = run([NativePiece(event) for event in upstream])

    assert kinds(events)[:2] == ["created", "in_progress"] and kinds(events)[-1] == "completed"
    assert len(events) == len(upstream)  # the provider's own start and end are replaced, one for one
    assert (
        events[-1]["response"]["id"] == TURN.response_id and events[-1]["response"]["model"] == "public-name"
    )
    assert [item["type"] for item in events[-1]["response"]["output"]] == ["reasoning", "message"]
    assert events[-1]["response"]["usage"]["input_tokens_details"]["cached_tokens"] == 4

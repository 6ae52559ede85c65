"""Bedrock's ConverseStream, against a loopback server that sends real AWS event stream frames
(tests/support/eventstream.py) to a real bedrock-runtime client: pieces as the frames arrive, tool use,
stop reasons and usage, exception events, cuts, idle gaps and the stream's time limit."""

import json
import time

import pytest

from lib.core.request import ModelRequest
from lib.platform.deadline import Deadline
from lib.platform.errors import UpstreamError, UpstreamRejected, UpstreamTimeout
from lib.platform.route_table import Route
from lib.providers.bedrock_clients import ClientsByTimeout
from lib.providers.call_stats import CallStats
from lib.providers.upstream_stream import StreamFault, StreamLimits
from tests.support import eventstream
from tests.support.bedrock_loopback import bedrock_provider
from tests.support.eventstream import event, exception, text_answer
from tests.support.fake_upstream import Behaviour

MODEL_ID = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
ROUTE = Route(name="claude", provider="bedrock", model=MODEL_ID)
SECRET_PROMPT = "the launch code is 0000"
HI = ModelRequest(kind="chat", model="claude", max_tokens=64, messages=({"role": "user", "content": "hi"},))
EVENT_STREAM = {"Content-Type": eventstream.CONTENT_TYPE}


def frames(parts, **options):
    return Behaviour(parts=tuple(parts), headers=EVENT_STREAM, **options)


def limits(idle_s=5.0, longest_s=10.0):
    return StreamLimits(idle_s=idle_s, ends_at=time.monotonic() + longest_s)


@pytest.fixture
def bedrock(upstream, monkeypatch):
    """The registered provider, built by `create`, with boto3 pointed at the loopback server."""
    return bedrock_provider(ROUTE, upstream.base_url, monkeypatch), upstream


def read_until_fault(pieces):
    received = []
    with pytest.raises(StreamFault) as raised:
        for piece in pieces:
            received.append(piece)
    return received, raised.value


def test_pieces_arrive_as_the_frames_do_with_finish_reason_and_usage(bedrock):
    # Given Bedrock writing a three-word answer, a frame every 0.3 s
    provider, server = bedrock
    server.then(frames(text_answer("Hel", "lo", " there", input_tokens=9, output_tokens=3), pace_s=0.3))

    # When the stream is opened and read
    pieces = provider.open_stream(HI, Deadline(10), CallStats(), limits())
    first = next(pieces)
    first_seen_at = time.monotonic()
    rest = list(pieces)

    # Then the first piece was in hand well before Bedrock sent its last frame
    assert first.role == "assistant"
    assert server.parts_sent_at[-1] - first_seen_at > 0.6  # 6 more frames, 0.3 s apart: 1.8 s, or more
    assert "".join(piece.text for piece in rest) == "Hello there"
    assert [piece.finish_reason for piece in rest if piece.finish_reason] == ["stop"]
    assert rest[-1].usage == (9, 3)
    # ... and ConverseStream was asked with Converse's arguments
    sent = server.received[0]
    assert sent.path == "/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream"
    assert sent.body["messages"] == [{"role": "user", "content": [{"text": "hi"}]}]
    assert sent.body["inferenceConfig"] == {"maxTokens": 64}


def test_tool_use_blocks_become_tool_call_deltas(bedrock):
    provider, server = bedrock
    server.then(
        frames(
            [
                event("messageStart", {"role": "assistant"}),
                event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Looking."}}),
                event("contentBlockStop", {"contentBlockIndex": 0}),
                event(
                    "contentBlockStart",
                    {
                        "contentBlockIndex": 1,
                        "start": {"toolUse": {"toolUseId": "tooluse_7", "name": "lookup"}},
                    },
                ),
                event(
                    "contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"q": '}}}
                ),
                event(
                    "contentBlockDelta",
                    {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '"zürich"}'}}},
                ),
                event("contentBlockStop", {"contentBlockIndex": 1}),
                event("messageStop", {"stopReason": "tool_use"}),
                eventstream.metadata(20, 12),
            ]
        )
    )

    pieces = list(provider.open_stream(HI, Deadline(10), CallStats(), limits()))

    calls = [call for piece in pieces if piece.tool_calls for call in piece.tool_calls]
    assert calls[0] == {
        "index": 0,
        "id": "tooluse_7",
        "type": "function",
        "function": {"name": "lookup", "arguments": ""},
    }
    assert json.loads("".join(call["function"]["arguments"] for call in calls)) == {"q": "zürich"}
    assert {call["index"] for call in calls} == {0}
    assert "".join(piece.text for piece in pieces) == "Looking."
    assert [piece.finish_reason for piece in pieces if piece.finish_reason] == ["tool_calls"]
    assert pieces[-1].usage == (20, 12)


@pytest.mark.parametrize(
    "throttled",
    [
        frames([exception("throttlingException", f"Too many tokens: {SECRET_PROMPT}")]),
        Behaviour(
            status=429,
            body={"message": "Too many requests"},
            headers={"x-amzn-ErrorType": "ThrottlingException"},
        ),
    ],
    ids=["exception event before the first piece", "429 before the stream"],
)
def test_a_throttle_before_the_first_piece_is_retried(bedrock, throttled):
    provider, server = bedrock
    server.then(throttled, frames(text_answer("second", " time")))
    stats = CallStats()

    pieces = list(provider.open_stream(HI, Deadline(10), stats, limits()))

    assert "".join(piece.text for piece in pieces) == "second time"
    assert (stats.attempts, stats.retries, len(server.received)) == (2, 1, 2)


def test_a_validation_exception_before_the_first_piece_is_the_callers_400_not_retried(bedrock):
    provider, server = bedrock
    server.then(frames([exception("validationException", f"Malformed input: {SECRET_PROMPT}")]))
    stats = CallStats()

    with pytest.raises(UpstreamRejected) as raised:
        provider.open_stream(HI, Deadline(10), stats, limits())

    assert raised.value.status == 400
    assert "ValidationException" in raised.value.message and SECRET_PROMPT not in raised.value.message
    assert stats.attempts == 1 and len(server.received) == 1


@pytest.mark.parametrize(
    ("attempts", "billed"),
    [
        ([frames([exception("throttlingException", "slow down")])] * 3, False),
        ([frames(text_answer("never"), stream_cut_after=0)] * 3, True),
    ],
    ids=["throttled every time", "cut before the first frame every time"],
)
def test_a_stream_that_never_opens_is_a_502_charged_only_when_bedrock_may_have_answered(
    bedrock, attempts, billed
):
    provider, server = bedrock
    server.then(*attempts)
    stats = CallStats()

    with pytest.raises(UpstreamError, match="3 attempt"):
        provider.open_stream(HI, Deadline(10), stats, limits())

    assert stats.maybe_billed is billed


@pytest.mark.parametrize(
    "code", ["modelStreamErrorException", "throttlingException", "internalServerException"]
)
def test_an_exception_event_after_the_first_piece_ends_the_stream_without_retry(bedrock, code):
    provider, server = bedrock
    answer = text_answer("partial", " answer")
    server.then(frames([*answer[:2], exception(code, f"model failed on: {SECRET_PROMPT}")]))

    received, fault = read_until_fault(provider.open_stream(HI, Deadline(10), CallStats(), limits()))

    assert "".join(piece.text for piece in received) == "partial"
    assert fault.kind == "malformed"
    assert code[0].upper() + code[1:] in str(fault) and SECRET_PROMPT not in str(fault)
    assert len(server.received) == 1


def test_a_connection_cut_mid_stream_is_a_cut(bedrock):
    provider, server = bedrock
    server.then(frames(text_answer("a", " b", " c"), stream_cut_after=3))

    received, fault = read_until_fault(provider.open_stream(HI, Deadline(10), CallStats(), limits()))

    assert fault.kind == "cut" and "".join(piece.text for piece in received) == "a b"


def test_a_stream_that_ends_before_message_stop_was_cut(bedrock):
    provider, server = bedrock
    server.then(frames(text_answer("a", " b")[:3]))  # a clean end of the HTTP body, but no messageStop

    received, fault = read_until_fault(provider.open_stream(HI, Deadline(10), CallStats(), limits()))

    assert fault.kind == "cut" and "".join(piece.text for piece in received) == "a b"


def test_a_frame_whose_checksum_fails_is_malformed(bedrock):
    provider, server = bedrock
    answer = text_answer("a", " b")
    damaged = answer[2][:-1] + bytes([answer[2][-1] ^ 0xFF])
    server.then(frames([*answer[:2], damaged, *answer[3:]]))

    received, fault = read_until_fault(provider.open_stream(HI, Deadline(10), CallStats(), limits()))

    assert fault.kind == "malformed" and "".join(piece.text for piece in received) == "a"


def test_a_malformed_model_output_stop_is_malformed(bedrock):
    provider, server = bedrock
    server.then(frames(text_answer("{broken", stop_reason="malformed_model_output")))

    _, fault = read_until_fault(provider.open_stream(HI, Deadline(10), CallStats(), limits()))

    assert fault.kind == "malformed" and "malformed_model_output" in str(fault)


def test_an_idle_gap_longer_than_the_limit_ends_the_stream(bedrock):
    provider, server = bedrock
    server.then(frames(text_answer("a", " b"), stream_stall_after=2, stall_s=12))
    started = time.monotonic()

    received, fault = read_until_fault(
        provider.open_stream(HI, Deadline(15), CallStats(), limits(idle_s=0.5))
    )

    assert fault.kind == "idle" and "".join(piece.text for piece in received) == "a"
    assert time.monotonic() - started < 5  # the 0.5 s idle gap ended it, not the server's 12 s of silence


def test_the_time_limit_ends_a_silent_stream_before_the_idle_gap_would(bedrock):
    provider, server = bedrock
    server.then(frames(text_answer("a", " b"), stream_stall_after=2, stall_s=12))
    started = time.monotonic()

    _, fault = read_until_fault(
        provider.open_stream(HI, Deadline(15), CallStats(), limits(idle_s=10, longest_s=1.0))
    )

    assert fault.kind == "max_time"
    assert time.monotonic() - started < 5  # the 1 s limit: not the 10 s idle gap, nor the server's 12 s


def test_a_first_event_that_never_comes_ends_at_the_deadline_as_a_timeout(bedrock):
    # Given Bedrock that sends its headers at once, then nothing (on every attempt)
    provider, server = bedrock
    server.then(*[frames(text_answer("late"), stream_stall_after=0, stall_s=12)] * 3)
    stats = CallStats()
    started = time.monotonic()

    # When the stream is opened with 1.5 s left (a read may wait 10 s: the idle gap)
    with pytest.raises(UpstreamTimeout):
        provider.open_stream(HI, Deadline(1.5), stats, limits(idle_s=10))

    # Then the deadline, not the idle gap or the server, ended the wait (room for a loaded machine)
    assert time.monotonic() - started < 6
    assert stats.maybe_billed


def test_a_stream_client_reads_no_longer_than_the_idle_gap():
    built = []
    clients = ClientsByTimeout(lambda config: built.append(config.read_timeout) or object())

    clients.within(Deadline(9.5), longest_wait_s=2.5)
    clients.within(Deadline(1.5), longest_wait_s=2.5)

    assert built == [2.5, 1.0]  # the idle gap, unless less of the deadline is left

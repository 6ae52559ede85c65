"""Bedrock's ConverseStream: the events botocore decodes from it, read within the stream's limits, as
provider-neutral pieces.

Every wait is bounded as for HTTP streams (lib/providers/upstream_stream.py): before the first piece by the
request's deadline, after it by the idle gap and the stream's end. The bedrock-runtime client's read
timeout is never longer than the idle gap (bedrock.py picks it so), and each read is narrowed further
to what is left when the socket is reachable. Whatever goes wrong while reading (an exception event,
a read timeout, the connection cut, a frame that does not decode) is a StreamFault; the provider's own
message is never repeated, only its error code.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from http.client import HTTPException
from typing import Any

import urllib3

from lib.core.pieces import StreamPiece
from lib.platform.deadline import Deadline
from lib.providers import converse_reply
from lib.providers.base import StreamedToolCalls
from lib.providers.upstream_signals import limit_raw_wait
from lib.providers.upstream_stream import StreamFault, StreamLimits


class ExceptionEvent(StreamFault):
    """Bedrock ended the stream with an exception event (`throttlingException`, ...): `code` is the
    event's name in the capitalised form Converse's own errors use (`ThrottlingException`)."""

    def __init__(self, code: str) -> None:
        super().__init__("malformed", f"Bedrock sent {code} instead of the rest of its answer")
        self.code = code


def open_pieces(events: Any, deadline: Deadline, limits: StreamLimits) -> Iterator[StreamPiece]:
    """The pieces of a ConverseStream (botocore's EventStream), once the first is in; StreamFault if
    the stream breaks before it. Reading them closes the stream however the reader stops."""
    pieces = _pieces(_EventReader(events, deadline, limits))
    try:
        first = next(pieces)
    except StopIteration:  # _pieces raises a fault rather than end early; this is for safety's sake
        events.close()
        raise StreamFault("cut", "the stream ended before its first event") from None
    except BaseException:
        events.close()
        raise
    return _resumed(first, pieces, events)


def _resumed(first: StreamPiece, rest: Iterator[StreamPiece], events: Any) -> Iterator[StreamPiece]:
    try:
        yield first
        yield from rest
    finally:
        events.close()


class _EventReader:
    """botocore's events one at a time, each wait bounded: by the deadline until a piece was read
    (`started` False), then by the idle gap and the stream's end."""

    def __init__(self, events: Any, deadline: Deadline, limits: StreamLimits) -> None:
        self._events = iter(events)
        # urllib3's response, to narrow each wait. botocore keeps it private: if a later botocore
        # drops it, the client's read timeout (at most the idle gap) still bounds every read.
        self._raw = getattr(events, "_raw_stream", None)
        self._deadline = deadline
        self._limits = limits
        self.started = False

    def next_event(self) -> Mapping[str, Any] | None:
        """The next event; None when the stream has ended."""
        from botocore.eventstream import ParserError
        from botocore.exceptions import BotoCoreError, ClientError
        from botocore.parsers import ResponseParserError

        if self.started:
            seconds, kind, reason = self._limits.next_wait()
        else:
            seconds, kind, reason = (
                self._deadline.remaining(),
                "idle",
                "the first event did not arrive in time",
            )
        if seconds <= 0:
            raise StreamFault(kind, reason)
        if self._raw is not None:
            limit_raw_wait(self._raw, seconds)
        try:
            event: Mapping[str, Any] = next(self._events)
        except StopIteration:
            return None
        except (TimeoutError, urllib3.exceptions.ReadTimeoutError):  # botocore's ReadTimeoutError too
            raise StreamFault(kind, reason) from None
        except ClientError as exc:  # botocore's EventStreamError: an exception event
            raise ExceptionEvent(converse_reply.error_code(exc)) from None
        except (ParserError, ResponseParserError):
            raise StreamFault("malformed", "Bedrock sent a stream frame that does not decode") from None
        except (OSError, HTTPException, urllib3.exceptions.HTTPError, BotoCoreError) as exc:
            raise StreamFault("cut", f"the stream was cut off ({type(exc).__name__})") from None
        return event


def _pieces(reader: _EventReader) -> Iterator[StreamPiece]:
    """messageStart, content blocks and their deltas, messageStop (the stop reason), then metadata
    (the usage). A stream that ends before messageStop was cut."""
    stopped = False
    tool_calls = StreamedToolCalls()
    while (event := reader.next_event()) is not None:
        if "messageStart" in event:
            piece: StreamPiece | None = StreamPiece(role="assistant")
        elif "contentBlockStart" in event:
            piece = _tool_call_start(event["contentBlockStart"], tool_calls)
        elif "contentBlockDelta" in event:
            piece = _delta(event["contentBlockDelta"], tool_calls)
        elif "messageStop" in event:
            stop_reason = event["messageStop"].get("stopReason")
            if not isinstance(stop_reason, str):
                raise StreamFault("malformed", "Bedrock ended the message without a stop reason")
            if stop_reason in converse_reply.MALFORMED_STOPS:
                raise StreamFault("malformed", f"Bedrock ended with {stop_reason}: no usable answer")
            stopped = True
            piece = StreamPiece(finish_reason=converse_reply.finish_reason_of(stop_reason))
        elif "metadata" in event:
            usage = event["metadata"].get("usage")
            counts = converse_reply.token_counts(usage)
            details = converse_reply.usage_details(usage)
            piece = StreamPiece(usage=counts, usage_details=details) if counts is not None else None
        else:
            piece = None  # contentBlockStop, and event types Bedrock adds later, carry nothing to forward
        if piece is not None:
            reader.started = True
            yield piece
    if not stopped:
        raise StreamFault("cut", "the stream ended before the answer did")


def _tool_call_start(start_event: Mapping[str, Any], tool_calls: StreamedToolCalls) -> StreamPiece | None:
    start = start_event.get("start")
    tool_use = start.get("toolUse") if isinstance(start, dict) else None
    if tool_use is None:
        return None  # other blocks (tool results, images) have no field in OpenAI's reply
    if (
        not isinstance(tool_use, dict)
        or not isinstance(tool_use.get("toolUseId"), str)
        or not isinstance(tool_use.get("name"), str)
    ):
        raise StreamFault("malformed", "the model sent a tool call without an id or a name")
    return tool_calls.started(start_event.get("contentBlockIndex"), tool_use["toolUseId"], tool_use["name"])


def _delta(delta_event: Mapping[str, Any], tool_calls: StreamedToolCalls) -> StreamPiece | None:
    delta = delta_event.get("delta")
    if not isinstance(delta, dict):
        raise StreamFault("malformed", "Bedrock sent a content block delta without its delta")
    if isinstance(delta.get("text"), str):
        return StreamPiece(text=delta["text"])
    tool_use = delta.get("toolUse")
    if isinstance(tool_use, dict) and isinstance(tool_use.get("input"), str):
        return tool_calls.arguments(delta_event.get("contentBlockIndex"), tool_use["input"])
    return None  # reasoning, citations, ...: no part of OpenAI's answer

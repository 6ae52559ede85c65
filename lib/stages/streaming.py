"""`stream: true`: the answer goes to the caller chunk by chunk, as the provider writes it.

`open_stream` does everything up to the provider's first event at once (route, admission, the call,
retries and fallbacks within the one deadline), so any failure before it is an ordinary error
response. What it returns is a generator of server-sent events: OpenAI's chunks, then the usage
chunk (when the caller asked for it) and `data: [DONE]`. After the first event nothing is retried
(the caller already has part of an answer): a cut, a malformed chunk, an idle gap past
STREAM_IDLE_TIMEOUT_S or the STREAM_MAX_S limit ends the stream with an error event, never a clean
finish. However the stream ends (finished, broken, or the caller gone), usage is settled: the
provider's own count (even above the reservation), or, when it sent none before the end, the input's
upper bound plus an estimate of what was streamed (a provider stops generating when its connection
closes, so a dropped or cut stream is not charged its whole reservation).

A cached answer (lib/stages/cache.py) is replayed whole, as the buffered path writes it (`replay`); a
streamed answer that finished cleanly, from the route that was chosen, is put together from its
pieces and stored like a whole one.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from lib.callers.identity import Caller
from lib.callers.limits import Admission
from lib.core.answer import Usage
from lib.core.pieces import ChunkHeader, StreamPiece, answer_of, joined_tool_calls
from lib.core.request import ModelRequest
from lib.core.token_estimate import output_tokens
from lib.platform.deadline import Deadline
from lib.platform.errors import UpstreamError, UpstreamTimeout
from lib.providers.call_stats import CallStats
from lib.providers.upstream_stream import StreamFault, StreamLimits
from lib.routing.dispatch import RouteTrace, StreamClaim
from lib.stages.cache import DEFAULT_DIRECTIVES, CacheDirectives, store_failed_in
from lib.stages.completion import admit, cost_of, public_model, record_charge, set_upstream_model
from lib.stages.context import Services
from lib.stages.telemetry import RequestRecord, StreamFacts


class StreamWriter(Protocol):
    """One stream's events in the caller's format (server-sent events); it may keep state, such as open
    content blocks or a sequence number."""

    def start(self) -> bytes:
        """The events before the first piece (b"" when the format has none)."""
        ...

    def piece(self, piece: StreamPiece) -> bytes:
        """The events for one piece (b"" when it carries nothing the caller sees)."""
        ...

    def end(self, usage: Usage) -> bytes:
        """The events after the last piece of a finished stream: usage where the format sends it, the end."""
        ...

    def fail(self, fault: StreamFault) -> bytes:
        """The format's error event for a stream that broke off: never a clean end."""
        ...


class StreamFormat(Protocol):
    """How a caller's API streams (lib/apis/openai_stream.py is one)."""

    def writer(self, request: ModelRequest, header: ChunkHeader) -> StreamWriter: ...

    def replay(self, body: Mapping[str, Any], request: ModelRequest, usage: Usage) -> bytes:
        """A whole answer (a cached one) as the stream the format sends."""
        ...


def open_stream(
    stream_format: StreamFormat,
    request: ModelRequest,
    caller: Caller,
    services: Services,
    record: RequestRecord,
    deadline: Deadline,
    lambda_remaining_s: float | None,
    *,
    refresh_cache: CacheDirectives = DEFAULT_DIRECTIVES,
) -> Iterator[bytes]:
    settings = services.settings
    admitted = admit(request, caller, services, record, refresh_cache)
    if admitted.hit is not None:
        return iter([stream_format.replay(admitted.hit.body, request, admitted.hit.usage)])
    candidates, admission = admitted.candidates, admitted.admission
    cache_key, reserve_tokens = admitted.cache_key, admitted.reserved_tokens
    stats = record.upstream = CallStats()
    trace = record.routes = RouteTrace()
    facts = record.stream = StreamFacts()
    longest = settings.stream_max_s
    if lambda_remaining_s is not None:
        longest = min(longest, lambda_remaining_s)
    limits = StreamLimits(idle_s=settings.stream_idle_timeout_s, ends_at=time.monotonic() + longest)
    started = time.monotonic()
    try:
        claim = services.dispatcher.open_stream(
            request, candidates, reserve_tokens, deadline, stats, trace, limits
        )
    except (UpstreamError, UpstreamTimeout):
        charged = reserve_tokens if stats.maybe_billed else 0
        _settle(services, record, admission, charged, 0.0)
        raise
    except BaseException:
        _settle(services, record, admission, 0, 0.0)
        raise
    facts.first_event_ms = round((time.monotonic() - started) * 1000, 2)
    facts.buffered = trace.buffered_stream
    record.model = public_model(claim.route, request, services)
    set_upstream_model(record, _peek_model(claim), claim.route, request)
    as_chosen = claim.route.name == candidates[0].name and not stats.fallback_used
    keep = cache_key if as_chosen and not store_failed_in(record) else None
    return _events(stream_format, request, services, record, admission, claim, keep)


def _events(
    stream_format: StreamFormat,
    request: ModelRequest,
    services: Services,
    record: RequestRecord,
    admission: Admission,
    claim: StreamClaim,
    cache_key: str | None,
) -> Iterator[bytes]:
    facts = record.stream
    assert facts is not None
    header = ChunkHeader(
        id=f"{'chatcmpl' if request.kind == 'chat' else 'cmpl'}-{uuid.uuid4().hex[:24]}",
        created=int(time.time()),
        model=record.model or "",
    )
    writer = stream_format.writer(request, header)
    pieces: list[StreamPiece] = []
    counted: tuple[int, int] | None = None
    usage: Usage | None = None
    healthy = True
    try:
        try:
            opening = writer.start()
            if opening:
                yield opening
            for piece in claim.result:
                counted = piece.usage or counted
                pieces.append(piece)
                data = writer.piece(piece)
                if data:
                    facts.chunks += 1
                    yield data
        except StreamFault as fault:
            healthy = False
            facts.fault = fault.kind
            record.fail("upstream_error", f"stream_{fault.kind}")
            yield writer.fail(fault)
            return
        usage = _usage_of(counted, request, pieces)
        if cache_key is not None and not services.cache.put(
            cache_key, answer_of(pieces, request, header), usage
        ):
            record.store_failures += 1
        yield writer.end(usage)
    except GeneratorExit:
        facts.disconnected = True  # the caller went away: stop reading the provider, settle below
        raise
    finally:
        if usage is None:  # dropped by the caller or broken off
            usage = _usage_of(counted, request, pieces)
        record.usage = usage
        used = usage.total_tokens
        cost = record.cost_usd = cost_of(used, claim.route, services, record)
        claim.finish(ok=healthy, used_tokens=used)
        close = getattr(claim.result, "close", None)
        if callable(close):
            close()
        _settle(services, record, admission, used, cost)


def _usage_of(counted: tuple[int, int] | None, request: ModelRequest, pieces: list[StreamPiece]) -> Usage:
    """The provider's count; without one, the input's upper bound and the answer's tokens as far as it
    streamed (text and tool calls)."""
    if counted is not None:
        return Usage(*counted)
    text = "".join(piece.text for piece in pieces)
    return Usage(request.input_tokens, output_tokens(text, joined_tool_calls(pieces)), estimated=True)


def _peek_model(claim: StreamClaim) -> str | None:
    """The model the provider's first piece names (for the reply's headers, sent before the body). The
    piece is put back, and a fault in reading it is raised where the stream's own faults are."""
    pieces = claim.result
    first: StreamPiece | None = None
    fault: Exception | None = None
    try:
        first = next(pieces, None)
    except Exception as caught:  # noqa: BLE001 - raised again from the stream, where it is handled
        fault = caught
    claim.result = _put_back(first, fault, pieces)
    return first.model if first is not None else None


def _put_back(
    first: StreamPiece | None, fault: Exception | None, rest: Iterator[StreamPiece]
) -> Iterator[StreamPiece]:
    try:
        if fault is not None:
            raise fault
        if first is not None:
            yield first
        yield from rest
    finally:
        close = getattr(rest, "close", None)
        if callable(close):
            close()  # the provider's connection, however the stream ends


def _settle(services: Services, record: RequestRecord, admission: Admission, used: int, cost: float) -> None:
    record_charge(record, used, record.reserved_tokens)
    trace = record.routes
    if trace is not None:
        record.store_failures += trace.quota_store_failures
        trace.quota_store_failures = 0
    if not services.limiter.settle(admission, used, cost):
        record.store_failures += 1

"""A provider's server-sent event stream, read one network read at a time within its limits.

Every wait is bounded: before the first event by the request's one deadline, after it by the idle
gap (`StreamLimits.idle_s`) and by the stream's end (`StreamLimits.ends`), whichever comes first.
A fault (the connection cut, an idle gap, the size cap, the time cap) raises `StreamFault`; the
provider's own framing (what a `data:` payload means) is left to its wire format module.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from http.client import HTTPException
from typing import Any, NamedTuple, Protocol

import urllib3

from lib.providers.upstream_signals import limit_socket_wait

_READ_CHUNK_BYTES = 16 * 1024


class _Deadline(Protocol):
    def remaining(self) -> float: ...


class StreamLimits(NamedTuple):
    idle_s: float
    ends_at: float  # time.monotonic() value past which the stream is cut
    clock: Callable[[], float] = time.monotonic

    def remaining(self) -> float:
        return self.ends_at - self.clock()

    def next_wait(self) -> tuple[float, str, str]:
        """How long the next read may wait, and the fault kind and reason if nothing comes by then:
        the idle gap, or what is left of the stream's time when that ends first."""
        idle = self.idle_s
        total = self.remaining()
        if total <= idle:
            return total, "max_time", "the stream reached its time limit (STREAM_MAX_S)"
        return idle, "idle", f"the model sent nothing for {idle:g} s (STREAM_IDLE_TIMEOUT_S)"


class StreamFault(Exception):
    """The stream ended badly. `kind`: cut, idle, too_large, max_time or malformed."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind


class ServerEvent(NamedTuple):
    name: str  # the `event:` field ("" when absent)
    data: str  # the `data:` lines joined by newlines


class EventStream:
    def __init__(self, response: Any, limits: StreamLimits, max_bytes: int) -> None:
        self._response = response
        self._limits = limits
        self._max_bytes = max_bytes
        self._buffer = b""
        self._received = 0
        self._pending: list[ServerEvent] = []
        self._ended = False

    def prefetch(self, deadline: _Deadline) -> None:
        """Wait (within `deadline`) for the first event, so that a failure before it can be retried."""
        while not self._pending and not self._ended:
            self._read_more(deadline.remaining(), "the first event did not arrive in time", "idle")
        if not self._pending:
            raise StreamFault("cut", "the stream ended before its first event")

    def __iter__(self) -> Iterator[ServerEvent]:
        while True:
            while self._pending:
                yield self._pending.pop(0)
            if self._ended:
                return
            seconds, kind, reason = self._limits.next_wait()
            self._read_more(seconds, reason, kind)

    def close(self) -> None:
        self._response.close()

    def _read_more(self, seconds: float, reason: str, kind: str) -> None:
        if seconds <= 0:
            raise StreamFault(kind, reason)
        limit_socket_wait(self._response, seconds)
        try:
            chunk = self._response.raw.read1(_READ_CHUNK_BYTES, decode_content=True)
        except (TimeoutError, urllib3.exceptions.ReadTimeoutError):
            raise StreamFault(kind, reason) from None
        except (OSError, HTTPException, urllib3.exceptions.HTTPError) as exc:
            raise StreamFault("cut", f"the stream was cut off ({type(exc).__name__})") from None
        if not chunk:
            self._ended = True
            return
        self._received += len(chunk)
        if self._received > self._max_bytes:
            raise StreamFault("too_large", f"the stream is larger than {self._max_bytes} bytes")
        self._buffer += chunk.replace(b"\r\n", b"\n")
        *blocks, self._buffer = self._buffer.split(b"\n\n")
        for block in blocks:
            event = _parse(block)
            if event is not None:
                self._pending.append(event)


def _parse(block: bytes) -> ServerEvent | None:
    name, data = "", []
    for raw_line in block.split(b"\n"):
        line = raw_line.decode("utf-8", errors="replace")
        if line.startswith(":"):
            continue  # a comment: providers send them as keep-alives
        field_name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field_name == "data":
            data.append(value)
        elif field_name == "event":
            name = value
    return ServerEvent(name, "\n".join(data)) if data else None

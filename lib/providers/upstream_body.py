"""An upstream's reply body, read one network read at a time so neither the deadline nor the size cap
is outrun, and what it says: a JSON object, or the error code of a refusal (never its text)."""

from __future__ import annotations

import json
from http.client import HTTPException
from typing import Any

import requests
import urllib3

from lib.platform.deadline import Deadline
from lib.providers.call_stats import CallStats
from lib.providers.upstream_signals import ErrorSignal, ascii_integer, error_signal, limit_socket_wait

_READ_CHUNK_BYTES = 64 * 1024


class AttemptFailed(Exception):
    """One attempt at an upstream (HTTP or Bedrock) failed; `retryable` says whether another attempt
    may do better."""

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        retry_after_s: float | None = None,
        refused: bool = False,
        timed_out: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after_s = retry_after_s
        self.refused = refused  # the request itself was refused: no other endpoint would take it either
        self.timed_out = timed_out  # a timeout: when its retry no longer fits, the deadline's doing


def read_body(response: requests.Response, deadline: Deadline, stats: CallStats, max_bytes: int) -> bytes:
    """Read the body one network read at a time, so neither the deadline nor the size cap is outrun."""
    declared = ascii_integer(response.headers.get("Content-Length"))
    if declared is not None and declared > max_bytes:
        stats.maybe_billed = True  # an answer too large to read was still generated
        raise AttemptFailed(f"the response is larger than {max_bytes} bytes", retryable=False)
    buffer = bytearray()
    try:
        while True:
            remaining = deadline.remaining()
            if remaining <= 0:
                stats.maybe_billed = True
                raise AttemptFailed("timed out reading the response", retryable=False)
            limit_socket_wait(response, remaining)
            chunk = response.raw.read1(_READ_CHUNK_BYTES, decode_content=True)
            if not chunk:
                return bytes(buffer)
            buffer += chunk
            if len(buffer) > max_bytes:
                stats.maybe_billed = True
                raise AttemptFailed(f"the response is larger than {max_bytes} bytes", retryable=False)
    except AttemptFailed:
        raise
    except (OSError, HTTPException, urllib3.exceptions.HTTPError) as exc:
        # A reset, a cut chunked body or a socket timeout mid-body: worth another attempt.
        stats.maybe_billed = True
        raise AttemptFailed(f"the response was cut off ({type(exc).__name__})", retryable=True) from None


def refusal_signal(
    response: requests.Response, deadline: Deadline, stats: CallStats, max_bytes: int
) -> ErrorSignal:
    """The provider's error code or type and the field it names, when it sends them; never its text."""
    maybe_billed = stats.maybe_billed
    try:
        signal = error_signal(read_body(response, deadline, stats, max_bytes))
    except AttemptFailed:
        signal = ErrorSignal()
    stats.maybe_billed = maybe_billed  # a refused request was not billed, whatever its body did
    return signal


def json_object(data: bytes, stats: CallStats) -> dict[str, Any]:
    """A 2xx reply's body as the JSON object it must be."""
    try:
        parsed = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        # A 2xx was answered: the provider may have generated (and billed) it, whatever its form.
        stats.maybe_billed = True
        raise AttemptFailed("the response was not valid JSON", retryable=False) from None
    if not isinstance(parsed, dict):
        stats.maybe_billed = True
        raise AttemptFailed("the response was not a JSON object", retryable=False)
    return parsed

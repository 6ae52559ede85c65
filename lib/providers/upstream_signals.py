"""What an upstream's reply says about waiting and retrying, read without trusting it: Retry-After,
Content-Length and error bodies come from a server we do not control, so each is parsed defensively
(ASCII digits only, bounded, never the provider's text), plus the backoff between attempts and the
socket wait every read gets. Shared by the HTTP client (lib/providers/upstream.py), its streams and Bedrock.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,47}")


def backoff_delay(retry_number: int, base_s: float, cap_s: float, jitter: Callable[[], float]) -> float:
    """Exponential backoff with "equal jitter": it grows, yet clients never retry in lockstep."""
    ceiling = min(cap_s, base_s * (2**retry_number))
    return ceiling / 2 + jitter() * ceiling / 2


def retry_after_s(value: str | None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    seconds = ascii_integer(value)
    if seconds is not None:
        return float(seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    try:
        return max(0.0, when.timestamp() - time.time())
    except (OverflowError, OSError, ValueError):
        return None


def ascii_integer(value: str | None) -> int | None:
    """A header's non-negative integer. `str.isdigit` also accepts digits `int` refuses ('²')."""
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > 18 or not (value.isascii() and value.isdigit()):
        return None
    return int(value)


def error_kind(body: bytes) -> str | None:
    """The `error.code` (or else `error.type`) identifier of an OpenAI- or Anthropic-style error body:
    the code says more when there is one (`model_not_found` beside `invalid_request_error`).

    Only a short identifier is kept: a provider's message can quote the request or the key."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return None
    if not isinstance(error, dict):
        return None
    for field in ("code", "type"):
        value = error.get(field)
        if isinstance(value, str) and _IDENTIFIER.fullmatch(value):
            return value
    return None


def limit_socket_wait(response: Any, seconds: float) -> None:
    """Give the next socket read only the time left, so a server that drips bytes cannot hold us."""
    limit_raw_wait(response.raw, seconds)


def limit_raw_wait(raw: Any, seconds: float) -> None:
    """`limit_socket_wait` for a urllib3 response itself (what botocore reads an event stream from)."""
    connection = getattr(raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.001))

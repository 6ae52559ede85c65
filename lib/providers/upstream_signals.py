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
from typing import Any, NamedTuple

_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,47}")
# A request field's path as OpenAI-compatible APIs name it (`messages[0].content`), nothing more.
_FIELD_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}(?:\[[0-9]{1,4}\]|\.[A-Za-z_][A-Za-z0-9_]{0,63}){0,8}")


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


class ErrorSignal(NamedTuple):
    """What an error body may say safely: its `error.code` (or else `error.type`) identifier, and the
    request field its `error.param` names. Never its message: a provider's text can quote the request
    or the key."""

    kind: str | None = None
    param: str | None = None


def error_signal(body: bytes) -> ErrorSignal:
    """The signal of an OpenAI- or Anthropic-style error body: the code says more when there is one
    (`model_not_found` beside `invalid_request_error`)."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return ErrorSignal()
    if not isinstance(error, dict):
        return ErrorSignal()
    kinds = (error.get(field) for field in ("code", "type"))
    kind = next((value for value in kinds if isinstance(value, str) and _IDENTIFIER.fullmatch(value)), None)
    param = error.get("param")
    return ErrorSignal(kind, param if isinstance(param, str) and _FIELD_PATH.fullmatch(param) else None)


def limit_socket_wait(response: Any, seconds: float) -> None:
    """Give the next socket read only the time left, so a server that drips bytes cannot hold us."""
    limit_raw_wait(response.raw, seconds)


def limit_raw_wait(raw: Any, seconds: float) -> None:
    """`limit_socket_wait` for a urllib3 response itself (what botocore reads an event stream from)."""
    connection = getattr(raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.001))

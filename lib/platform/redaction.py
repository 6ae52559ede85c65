"""Key values the gateway holds, scrubbed from everything that leaves it: replies, stream chunks, log lines.

A provider, or a proxy before it, that echoes the request's headers into its answer's text would hand
the route's key to the caller, and with LOG_PROMPTS=true to the access line. The key sources
(lib/keys/) `remember` every key value they read (from the environment, SSM or Secrets Manager, the
single-model key and every route's), and two choke points scrub them, whatever the caller's format:
lib/http/gateway.py, where every body leaves (`scrub_bytes`, `StreamScrubber`), and the log handler
(`LogScrubber`), where every line is written. A key is found as written and as JSON escapes it.

What it does not see: a key cut by the provider into two stream events (each event is scrubbed
whole, but the two halves are in different JSON strings), or re-encoded (base64, URL escapes).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"
# Shorter values are no real key (provider keys run to dozens of characters), and scrubbing them would
# mangle ordinary text in answers.
MIN_SECRET_CHARS = 12
# A container holds a key per route and a rotated key a day or so: the oldest are forgotten past this.
MAX_SECRETS = 64

_lock = threading.Lock()
_secrets: dict[str, None] = {}  # in the order remembered (oldest first)
_forms: tuple[bytes, ...] = ()  # every secret as written and as JSON escapes it, longest first


def remember(value: str | None) -> None:
    """Scrub `value` from now on (a key read from its store; None and short values are ignored)."""
    global _forms
    if value is None or len(value) < MIN_SECRET_CHARS:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets[value] = None
        while len(_secrets) > MAX_SECRETS:
            del _secrets[next(iter(_secrets))]
        _forms = _written_forms(_secrets)


def forget_all() -> None:
    """Scrub nothing (tests)."""
    global _forms
    with _lock:
        _secrets.clear()
        _forms = ()


def _written_forms(secrets: Iterable[str]) -> tuple[bytes, ...]:
    forms: set[bytes] = set()
    for secret in secrets:
        escaped = json.dumps(secret)[1:-1]  # `"` and `\` escaped, as inside a JSON string
        for form in (secret, escaped, escaped.replace("/", "\\/")):  # some encoders escape "/" too
            forms.add(form.encode("utf-8"))
    return tuple(sorted(forms, key=len, reverse=True))


def scrub_bytes(data: bytes) -> bytes:
    forms = _forms
    for form in forms:
        if form in data:
            data = data.replace(form, REDACTED.encode())
    return data


def scrub_text(text: str) -> str:
    if not _forms or not any(form.decode() in text for form in _forms):
        return text
    return scrub_bytes(text.encode("utf-8", errors="surrogatepass")).decode("utf-8", errors="surrogatepass")


def scrub_value(value: Any) -> Any:
    """A log field's value with every key scrubbed: strings, and the strings inside dicts and lists."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {key: scrub_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub_value(item) for item in value)
    return value


class StreamScrubber:
    """Scrubs a body written in pieces: a key cut between two pieces is still found, because the end of
    a piece that could be the start of a key is held back until the next piece (or the end) says."""

    def __init__(self) -> None:
        self._held = b""

    def feed(self, piece: bytes) -> bytes:
        forms = _forms
        if not forms and not self._held:
            return piece
        data = scrub_bytes(self._held + piece)
        keep = _unfinished_key_length(data, forms)
        self._held = data[len(data) - keep :] if keep else b""
        return data[: len(data) - keep]

    def flush(self) -> bytes:
        rest, self._held = self._held, b""
        return scrub_bytes(rest)


def _unfinished_key_length(data: bytes, forms: tuple[bytes, ...]) -> int:
    """The length of the longest end of `data` that some key begins with (0: none). A server-sent
    event ends with a blank line, which no key begins with, so a stream's events are not delayed."""
    longest = min(len(data), max((len(form) for form in forms), default=1) - 1)
    first_bytes = {form[0] for form in forms}
    for length in range(longest, 0, -1):
        if data[-length] in first_bytes and any(form.startswith(data[-length:]) for form in forms):
            return length
    return 0


# What every log record carries; anything else on a record is an `extra` field.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class LogScrubber(logging.Filter):
    """A log handler's filter: every key scrubbed from the message, its arguments and its extra fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _forms:
            return True
        if isinstance(record.msg, str):
            record.msg = scrub_text(record.msg)
        if record.args:
            record.args = scrub_value(record.args)
        for name, value in list(vars(record).items()):
            if name not in _RECORD_FIELDS:
                setattr(record, name, scrub_value(value))
        return True

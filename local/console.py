"""What `make run` prints: one short line per request instead of the JSON access line and EMF blob.

The gateway writes the same JSON lines it writes in Lambda (powertools' logger, EMF metrics on
stdout). `ConsoleLog` stands in for stdout: it turns each access line into one line a person can
scan, drops the metric blobs, and passes everything else (warnings, errors, our own messages)
through unchanged. With `json_logs` it passes every line through as it is.
"""

from __future__ import annotations

import io
import json
import threading
import time
from typing import Any, TextIO


def human_line(access: dict[str, Any]) -> str:
    """`12:03:07 POST /v1/chat/completions 200 ip_1a2b3c4d5e6f modelgate-local 16 tok charged 3.1 ms`."""
    route = str(access.get("route") or "? ?")
    parts = [time.strftime("%H:%M:%S"), route, str(access.get("status", "?"))]
    parts.append(str(access.get("caller") or "-"))
    parts.append(str(access.get("model") or "-"))
    parts.append(tokens_shown(access))
    parts.append(f"{float(access.get('latency_ms') or 0):.1f} ms")
    if access.get("error_code"):
        parts.append(str(access["error_code"]))
    if access.get("temperature_clamped"):
        parts.append(f"temperature {access['temperature_clamped']}")
    stream: dict[str, Any] = access["stream"] if isinstance(access.get("stream"), dict) else {}
    if stream.get("disconnected"):
        parts.append("stream: the caller left")
    elif stream.get("fault"):
        parts.append(f"stream broke: {stream['fault']}")
    if access.get("cache") == "hit":
        parts.append("cache hit")
    if access.get("batch_item") is not None:
        parts.append(f"batch item {access['batch_item']}")
    elif access.get("batch_items") is not None:
        parts.append(f"batch of {access['batch_items']}")
    return " ".join(parts)


def tokens_shown(access: dict[str, Any]) -> str:
    """What the caller's budget was charged, and the reply's own figure beside it when that differs (a
    cache hit is charged nothing; a call that failed after it may have been billed is charged its
    reservation; a reply over its reservation may be charged less than it says)."""
    charged = int(access.get("charged_tokens") or 0)
    reply = int(access.get("total_tokens") or 0)
    return f"{charged} tok charged" + (f" (reply {reply})" if reply != charged else "")


class ConsoleLog(io.TextIOBase):
    """A stdout stand-in that rewrites the gateway's JSON lines for a person (see the module doc)."""

    def __init__(self, out: TextIO, json_logs: bool = False) -> None:
        self._out = out
        self._json_logs = json_logs
        self._pending = ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            while "\n" in self._pending:
                line, _, self._pending = self._pending.partition("\n")
                self._emit(line)
        return len(text)

    def flush(self) -> None:
        self._out.flush()

    def _emit(self, line: str) -> None:
        shown = line if self._json_logs else self._rewrite(line)
        if shown is not None:
            self._out.write(shown + "\n")
            self._out.flush()

    @staticmethod
    def _rewrite(line: str) -> str | None:
        if not line.lstrip().startswith("{"):
            return line
        try:
            parsed = json.loads(line)
        except ValueError:
            return line
        if not isinstance(parsed, dict):
            return line
        if "_aws" in parsed:
            return None  # an EMF metric blob: CloudWatch reads those, a person does not
        if parsed.get("message") == "request" and "route" in parsed:
            return human_line(parsed)
        return line

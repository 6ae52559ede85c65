"""The built-in local model: a small OpenAI-compatible server on loopback, for `make run` without a key.

It is not a language model. It answers deterministically (echoing what it was asked, cut to
`max_tokens`), and its token counts are honest: they are counts of the tokens it actually read
and wrote, by its own simple tokenizer (a word, a number, a punctuation mark or a CJK character is
one token). The gateway reaches it through the same provider code as any real API.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL_NAME = "modelgate-local"
# Seconds between streamed tokens: slow enough to see a stream arrive, like a real model.
PACE_S = float(os.environ.get("LOCAL_MODEL_PACE_S", "0.02"))
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _join(tokens: list[str]) -> str:
    """Tokens back to text: no space before punctuation, none between two CJK characters."""
    text = ""
    previous = ""
    for token in tokens:
        both_cjk = bool(re.match(rf"[{_CJK}]", token)) and bool(re.match(rf"[{_CJK}]", previous))
        glue = "" if not text or both_cjk or re.match(rf"[^\w{_CJK}]", token) else " "
        text += glue + token
        previous = token
    return text


def answer(prompt: str, max_tokens: int) -> tuple[str, int]:
    """The reply text and its token count, at most `max_tokens` tokens."""
    tokens = tokenize(f"Local model reply: {prompt}" if prompt else "Local model reply.")
    kept = tokens[:max_tokens]
    return _join(kept), len(kept)


def message_text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of parts (`[{"type": "text", "text": ...}]`,
    as the OpenAI API allows), joined by a space; other parts (images, audio) hold no text to count."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
        )
    return ""


class _Handler(BaseHTTPRequestHandler):
    server_version = "modelgate-local/1"
    # Keep-alive, as a provider's API: the gateway's session reuses one connection across requests.
    # Whole answers carry a Content-Length; a stream ends by closing its connection.
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY the body waits for the client's
    # delayed ACK of the headers (40 ms on Linux) on a kept-alive connection.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send(
                200,
                {
                    "object": "list",
                    "data": [{"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "modelgate"}],
                },
            )
        else:
            self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._send(400, {"error": {"message": "invalid JSON", "type": "invalid_request_error"}})
            return
        max_tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or 256)
        model = body.get("model") or MODEL_NAME
        created = int(time.time())
        if self.path.rstrip("/").endswith("/chat/completions"):
            messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
            texts = [message_text(m.get("content")) for m in messages]
            user_texts = [message_text(m.get("content")) for m in messages if m.get("role") == "user"]
            text, completion_tokens = answer(user_texts[-1] if user_texts else "", max_tokens)
            prompt_tokens = sum(len(tokenize(t)) for t in texts)
            choice: dict[str, Any] = {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "length" if completion_tokens >= max_tokens else "stop",
            }
            kind = "chat.completion"
        elif self.path.rstrip("/").endswith("/completions"):
            prompt = body.get("prompt") or ""
            text, completion_tokens = answer(prompt, max_tokens)
            prompt_tokens = len(tokenize(prompt))
            choice = {
                "index": 0,
                "text": text,
                "logprobs": None,
                "finish_reason": "length" if completion_tokens >= max_tokens else "stop",
            }
            kind = "text_completion"
        else:
            self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
            return
        if body.get("stream"):
            usage = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._stream(kind, model, created, choice, usage if include_usage else None)
            return
        self._send(
            200,
            {
                "id": f"local-{uuid.uuid4().hex[:16]}",
                "object": kind,
                "created": created,
                "model": model,
                "choices": [choice],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
        )

    def _stream(
        self, kind: str, model: str, created: int, choice: dict[str, Any], usage: dict[str, int] | None
    ) -> None:
        """The same answer as OpenAI streams it: a chunk per token, PACE_S apart, as a model writes."""
        chat = kind == "chat.completion"
        text = choice["message"]["content"] if chat else choice["text"]
        chunk_kind = "chat.completion.chunk" if chat else "text_completion"
        header = {
            "id": f"local-{uuid.uuid4().hex[:16]}",
            "object": chunk_kind,
            "created": created,
            "model": model,
        }
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        pieces = [match.group() for match in re.finditer(r"\s*\S+", text)]
        try:
            if chat:
                self._event(
                    {**header, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
                )
            for piece in pieces:
                time.sleep(PACE_S)
                delta: dict[str, Any] = {"delta": {"content": piece}} if chat else {"text": piece}
                self._event({**header, "choices": [{"index": 0, **delta, "finish_reason": None}]})
            end: dict[str, Any] = {"delta": {}} if chat else {"text": ""}
            self._event(
                {**header, "choices": [{"index": 0, **end, "finish_reason": choice["finish_reason"]}]}
            )
            if usage is not None:
                self._event({**header, "choices": [], "usage": usage})
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the gateway stopped reading (its caller went away)
        self.close_connection = True

    def _event(self, data: dict[str, Any]) -> None:
        self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the gateway hung up (its deadline, or its caller went away)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LocalModel:
    """Start with `start()`; `base_url` is what AI_MODEL_ENDPOINT should be."""

    def __init__(self, port: int = 0) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-model", daemon=True)

    @property
    def base_url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}/v1"

    def start(self) -> LocalModel:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

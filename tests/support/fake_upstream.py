"""A real HTTP server on loopback that plays an OpenAI-compatible provider, scripted per test
(subclasses play other wire formats: tests/support/fake_anthropic.py).

Queue behaviours with `then(...)`; each upstream request takes the next one (or answers normally
when the queue is empty). Every request is recorded, so tests can assert what the gateway sent.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.loopback import LoopbackHTTPServer


@dataclass
class Behaviour:
    status: int = 200
    body: Any = None  # dict -> JSON; bytes -> sent as is; None -> a normal completion
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # before the status line
    header_drip_s: float = 0.0  # send the status line and headers a byte at a time, this far apart
    drip_s: float = 0.0  # between body bytes
    reset: bool = False  # cut the connection (RST) instead of answering
    cut_after: int | None = None  # send only this many body bytes, then close
    stall_after: int | None = None  # with drip_s: after this many body bytes, go quiet for stall_s
    stall_s: float = 0.0
    # Streams (a request with "stream": true and no `body` set): OpenAI's SSE chunks, one per word.
    pace_s: float = 0.0  # between chunks
    words: tuple[str, ...] = ("hello", " from", " upstream")
    stream_cut_after: int | None = None  # send this many content chunks, then close the connection
    stream_stall_after: int | None = None  # after this many content chunks, go quiet for stall_s
    stream_garbage_after: int | None = None  # after this many content chunks, send a chunk that is not JSON
    stream_usage: bool = True  # the final usage chunk, when the request asked for it
    # A body in parts (the frames of an AWS event stream: tests/support/eventstream.py), each its own
    # HTTP chunk, pace_s apart; stream_cut_after / stream_stall_after count parts here.
    parts: tuple[bytes, ...] | None = None


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


def completion(
    text: str = "hello from upstream",
    prompt_tokens: int = 11,
    completion_tokens: int = 4,
    model: str = "test-model",
    chat: bool = True,
) -> dict[str, Any]:
    choice: dict[str, Any] = (
        {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        if chat
        else {"index": 0, "text": text, "logprobs": None, "finish_reason": "stop"}
    )
    return {
        "id": "up-123",
        "object": "chat.completion" if chat else "text_completion",
        "created": 1700000000,
        "model": model,
        "choices": [choice],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class FakeUpstream:
    def __init__(self, valid_keys: set[str] | None = None) -> None:
        self.queue: deque[Behaviour] = deque()
        self.received: list[Received] = []
        self.valid_keys = valid_keys  # None: any key (or none) is accepted
        self.streams_abandoned = 0  # streams whose reader hung up before the end
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests it was answering at once
        self.parts_sent_at: list[float] = []  # time.monotonic() as each part of a `parts` body went out
        self._lock = threading.Lock()
        self._server = LoopbackHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def then(self, *behaviours: Behaviour) -> FakeUpstream:
        self.queue.extend(behaviours)
        return self

    def start(self) -> FakeUpstream:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # The provider's wire format; a fake for another provider overrides these three.
    def key_sent(self, headers: Any) -> str:
        return str(headers.get("Authorization") or "").removeprefix("Bearer ")

    def key_rejected_body(self, key: str) -> Any:
        return {"error": {"message": f"Incorrect API key provided: {key}", "type": "invalid_request_error"}}

    def normal_answer(self, method: str, path: str, body: Any) -> Any:
        if method == "GET":
            return {
                "object": "list",
                "data": [{"id": "test-model", "object": "model", "created": 0, "owned_by": "test"}],
            }
        return completion(
            chat=path.endswith("/chat/completions"), model=(body or {}).get("model", "test-model")
        )

    def _next(self) -> Behaviour:
        with self._lock:
            return self.queue.popleft() if self.queue else Behaviour()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else a body written after its headers waits 40 ms for an ACK

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def do_DELETE(self) -> None:
                self._answer()

            def _answer(self) -> None:
                with upstream._lock:
                    upstream.in_flight += 1
                    upstream.max_in_flight = max(upstream.max_in_flight, upstream.in_flight)
                try:
                    self._respond()
                finally:
                    with upstream._lock:
                        upstream.in_flight -= 1

            def _respond(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                upstream.received.append(Received(self.command, self.path, dict(self.headers.items()), body))
                behaviour = upstream._next()
                if upstream.valid_keys is not None:
                    key = upstream.key_sent(self.headers)
                    if key not in upstream.valid_keys:
                        behaviour = Behaviour(401, upstream.key_rejected_body(key))
                if behaviour.delay_s:
                    time.sleep(behaviour.delay_s)
                if behaviour.reset:
                    # SO_LINGER 0: close() sends RST, as a crashed proxy or load balancer would.
                    # The socket only really closes once the handler's file objects let go of it.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.rfile.close()
                    self.wfile.close()
                    self.connection.close()
                    self.close_connection = True
                    return
                if behaviour.parts is not None:
                    try:
                        self._parts(behaviour)
                    except (BrokenPipeError, ConnectionResetError):
                        upstream.streams_abandoned += 1
                        self.close_connection = True
                    return
                payload = behaviour.body
                if payload is None and isinstance(body, dict) and body.get("stream"):
                    try:
                        self._stream(behaviour, body)
                    except (BrokenPipeError, ConnectionResetError):
                        upstream.streams_abandoned += 1  # the gateway stopped reading
                        self.close_connection = True
                    return
                if payload is None:
                    payload = upstream.normal_answer(self.command, self.path, body)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                if behaviour.header_drip_s:
                    head = (
                        f"HTTP/1.1 {behaviour.status} OK\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(data)}\r\n\r\n"
                    ).encode()
                    try:
                        for byte in head:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(behaviour.header_drip_s)
                        self.wfile.write(data)
                    except OSError:
                        pass  # the gateway gave up and closed the connection
                    self.close_connection = True
                    return
                self.send_response(behaviour.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in behaviour.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if behaviour.cut_after is not None:
                    self.wfile.write(data[: behaviour.cut_after])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if behaviour.drip_s:
                    for index, byte in enumerate(data):
                        if index == behaviour.stall_after:
                            time.sleep(behaviour.stall_s)
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(behaviour.drip_s)
                    return
                self.wfile.write(data)

            def _parts(self, behaviour: Behaviour) -> None:
                assert behaviour.parts is not None
                self.send_response(behaviour.status)
                self.send_header("Transfer-Encoding", "chunked")
                for name, value in behaviour.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                for index, part in enumerate(behaviour.parts):
                    if index == behaviour.stream_cut_after:
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                        return
                    if index == behaviour.stream_stall_after:
                        time.sleep(behaviour.stall_s)
                    if behaviour.pace_s and index:
                        time.sleep(behaviour.pace_s)
                    self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                    self.wfile.flush()
                    upstream.parts_sent_at.append(time.monotonic())
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            def _stream(self, behaviour: Behaviour, request: dict[str, Any]) -> None:
                """OpenAI's stream: a role chunk, a chunk per word, a finish chunk, usage, [DONE]."""
                self.send_response(behaviour.status)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                for name, value in behaviour.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                chat = self.path.endswith("/chat/completions")
                model = request.get("model", "test-model")

                def event(data: str) -> None:
                    raw = f"data: {data}\n\n".encode()
                    self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
                    self.wfile.flush()

                def chunk(choice: dict[str, Any] | None, usage: dict[str, int] | None = None) -> str:
                    kind = "chat.completion.chunk" if chat else "text_completion"
                    data: dict[str, Any] = {"id": "up-stream-1", "object": kind, "created": 1700000000}
                    data.update({"model": model, "choices": [choice] if choice else []})
                    if usage is not None:
                        data["usage"] = usage
                    return json.dumps(data)

                if chat:
                    event(
                        chunk(
                            {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
                        )
                    )
                for index, word in enumerate(behaviour.words):
                    if index == behaviour.stream_cut_after:
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    if index == behaviour.stream_stall_after:
                        time.sleep(behaviour.stall_s)
                    if index == behaviour.stream_garbage_after:
                        event("{not json")
                    if behaviour.pace_s:
                        time.sleep(behaviour.pace_s)
                    piece = {"delta": {"content": word}} if chat else {"text": word}
                    event(chunk({"index": 0, **piece, "finish_reason": None}))
                finish = {"delta": {}} if chat else {"text": ""}
                event(chunk({"index": 0, **finish, "finish_reason": "stop"}))
                if behaviour.stream_usage and (request.get("stream_options") or {}).get("include_usage"):
                    event(chunk(None, completion()["usage"]))  # the provider's own count, as when whole
                event("[DONE]")
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

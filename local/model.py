"""The built-in local model: a small OpenAI-compatible server on loopback, for `make run` without a key.

It is not a language model, but it behaves like a capable one as far as a client can check, always the
same way for the same request (local/answers.py): it calls tools with valid arguments, answers
structured output valid for the schema, describes the images it is sent, gives logprobs, streams all of
these (local/model_stream.py), and answers embeddings (local/embeddings.py). Its token counts are honest:
counts of the tokens it read and wrote, by its own simple tokenizer (local/tokens.py). The gateway
reaches it through the same provider code as any real API.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local.answers import Answer, BadRequest, chat_answer, completion_answer
from local.embeddings import embeddings_reply
from local.logprobs import chat_logprobs, completion_logprobs
from local.model_stream import chat_chunks, completion_chunks, pacer
from local.request_checks import check_chat

MODEL_NAME = "modelgate-local"
# Seconds between streamed tokens: slow enough to see a stream arrive, like a real model.
PACE_S = float(os.environ.get("LOCAL_MODEL_PACE_S", "0.02"))


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
            self._error(404, f"no such endpoint: GET {self.path}", None)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._error(400, "the body is not valid JSON", None)
            return
        path = self.path.rstrip("/")
        if not isinstance(body, dict):
            self._error(400, "the body must be a JSON object", None)
            return
        model: str = body["model"] if isinstance(body.get("model"), str) else MODEL_NAME
        try:
            if path.endswith("/chat/completions"):
                check_chat(body)
                self._answer("chat.completion", model, chat_answer(body), body)
            elif path.endswith("/completions"):
                self._answer("text_completion", model, completion_answer(body), body)
            elif path.endswith("/embeddings"):
                self._send(200, embeddings_reply(body, model))
            else:
                self._error(404, f"no such endpoint: POST {path}", None)
        except BadRequest as exc:
            self._error(400, str(exc), exc.param)
        except Exception as exc:  # noqa: BLE001 - a model's own failure is its 500, never a dropped connection
            self._error(500, f"the built-in model failed on this request ({type(exc).__name__})", None)

    def _answer(self, kind: str, model: str, answer: Answer, body: dict[str, Any]) -> None:
        chat, streamed = kind == "chat.completion", bool(body.get("stream"))
        header = {
            "id": f"local-{uuid.uuid4().hex[:16]}",
            "object": f"{kind}.chunk" if chat and streamed else kind,
            "created": int(time.time()),
            "model": model,
        }
        if streamed:
            chunks = (chat_chunks if chat else completion_chunks)(answer, header, pacer(self._pace_s))
            options = body.get("stream_options")
            include_usage = isinstance(options, dict) and options.get("include_usage") is True
            self._stream(chunks, {**header, "choices": [], "usage": answer.usage} if include_usage else None)
            return
        self._send(200, {**header, "choices": [_whole_choice(kind, answer)], "usage": answer.usage})

    def _stream(self, chunks: Iterator[dict[str, Any]], usage_chunk: dict[str, Any] | None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            for chunk in chunks:
                self._event(chunk)
            if usage_chunk is not None:
                self._event(usage_chunk)
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

    @property
    def _pace_s(self) -> float:
        server = self.server
        return server.pace_s if isinstance(server, _ModelServer) else PACE_S

    def _error(self, status: int, message: str, param: str | None) -> None:
        kind = "server_error" if status >= 500 else "invalid_request_error"
        code = {400: "invalid_request_error", 404: "not_found"}.get(status, "server_error")
        self._send(
            status,
            {"error": {"message": message, "type": kind, "code": code, "param": param}},
        )

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _whole_choice(kind: str, answer: Answer) -> dict[str, Any]:
    top = answer.top_logprobs
    if kind == "text_completion":
        logprobs = completion_logprobs(answer.content or "", top) if top is not None else None
        return {
            "index": 0,
            "text": answer.content,
            "logprobs": logprobs,
            "finish_reason": answer.finish_reason,
        }
    message: dict[str, Any] = {"role": "assistant", "content": answer.content, "refusal": None}
    if answer.tool_calls:
        message["tool_calls"] = answer.tool_calls
    if answer.function_call is not None:
        message["function_call"] = answer.function_call
    logprobs = chat_logprobs(answer.content or "", top) if top is not None else None
    return {"index": 0, "message": message, "logprobs": logprobs, "finish_reason": answer.finish_reason}


class _ModelServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, pace_s: float) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.pace_s = pace_s  # seconds between streamed tokens


class LocalModel:
    """Start with `start()`; `base_url` is what AI_MODEL_ENDPOINT should be."""

    def __init__(self, port: int = 0, pace_s: float | None = None) -> None:
        self._server = _ModelServer(port, PACE_S if pace_s is None else pace_s)
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

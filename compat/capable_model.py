"""A scripted model API on loopback that answers like a capable one as far as a client can check, for
`make compat`: OpenAI's chat completions (text, tool calls with arguments that fit the tool's schema,
structured output and JSON mode, images read as parts, stop sequences, streams with usage), legacy
completions, embeddings, Anthropic's Messages API (compat/capable_messages.py) and Bedrock's
InvokeModel for Titan Text Embeddings V2. Deterministic; its token counts are counts of the words it
read and wrote.
"""

from __future__ import annotations

import base64
import json
import re
import struct
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from compat import capable_messages
from compat.capable_answers import chat_answer, cut, text_of, tokens, usage, vector


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._json(
            {
                "object": "list",
                "data": [{"id": "capable", "object": "model", "created": 0, "owned_by": "compat"}],
            }
        )

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        path = self.path.rstrip("/")
        if re.fullmatch(r"/model/[^/]+/invoke", path):
            text = body.get("inputText", "")
            self._json(
                {"embedding": vector(text, body.get("dimensions", 1024)), "inputTextTokenCount": tokens(text)}
            )
        elif path.endswith("/embeddings"):
            self._embeddings(body)
        elif path.endswith("/messages"):
            self._messages(body)
        elif path.endswith("/chat/completions") or path.endswith("/completions"):
            self._completion(body, chat=path.endswith("/chat/completions"))
        else:
            self._json({"error": {"message": "not found", "type": "invalid_request_error"}}, 404)

    def _embeddings(self, body: dict[str, Any]) -> None:
        texts = [body["input"]] if isinstance(body.get("input"), str) else list(body.get("input") or [])
        data = []
        for index, text in enumerate(texts):
            values = vector(str(text), body.get("dimensions") or 8)
            if body.get("encoding_format") == "base64":
                values = base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()  # type: ignore[assignment]
            data.append({"object": "embedding", "index": index, "embedding": values})
        count = sum(tokens(str(text)) for text in texts)
        reply = {"object": "list", "data": data, "model": body.get("model", "capable")}
        self._json({**reply, "usage": {"prompt_tokens": count, "total_tokens": count}})

    def _completion(self, body: dict[str, Any], chat: bool) -> None:
        if chat:
            prompt = sum(tokens(text_of(m.get("content"))) for m in body.get("messages") or [])
            text, calls, reason = chat_answer(body)
        else:
            prompt = tokens(str(body.get("prompt")))
            text, calls, reason = cut(f"Hello! You said: {body.get('prompt')}", body)
        written = tokens(text or "") + sum(tokens(c["function"]["arguments"]) for c in calls)
        head = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()),
            "model": body.get("model") or "capable",
            "system_fingerprint": "fp_compat",
        }
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._stream(head, chat, text, calls, reason, usage(prompt, written) if include_usage else None)
            return
        if chat:
            message = {"role": "assistant", "content": text, "refusal": None}
            choice: dict[str, Any] = {
                "index": 0,
                "message": {**message, **({"tool_calls": calls} if calls else {})},
            }
        else:
            choice = {"index": 0, "text": text}
        self._json(
            {
                **head,
                "choices": [{**choice, "logprobs": None, "finish_reason": reason}],
                "usage": usage(prompt, written),
            }
        )

    def _stream(
        self,
        head: dict[str, Any],
        chat: bool,
        text: str | None,
        calls: list[dict[str, Any]],
        reason: str,
        counts: dict[str, Any] | None,
    ) -> None:
        head = {**head, "object": "chat.completion.chunk" if chat else "text_completion"}
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()

        def event(choice: dict[str, Any] | None, **extra: Any) -> None:
            chunk = {**head, "choices": [choice] if choice else [], **extra}
            if counts is not None and "usage" not in extra:
                chunk["usage"] = None
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()

        def piece(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            if chat:
                return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return {"index": 0, "text": delta.get("content", ""), "logprobs": None, "finish_reason": finish}

        if chat:
            event(piece({"role": "assistant", "content": "" if text is not None else None}))
        for word in re.findall(r"\s*\S+", text or ""):
            event(piece({"content": word}))
        for index, call in enumerate(calls):
            arguments = call["function"]["arguments"]
            opening = {
                "index": index,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""},
            }
            event(piece({"tool_calls": [opening]}))
            for part in (arguments[: len(arguments) // 2], arguments[len(arguments) // 2 :]):
                event(piece({"tool_calls": [{"index": index, "function": {"arguments": part}}]}))
        event(piece({}, reason))
        if counts is not None:
            event(None, usage=counts)
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True

    def _messages(self, body: dict[str, Any]) -> None:

        if not body.get("stream"):
            self._json(capable_messages.message(body))
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for name, data in capable_messages.events(body):
            self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()
        self.close_connection = True

    def _json(self, payload: dict[str, Any], status: int = 200) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class CapableModel:
    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> CapableModel:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

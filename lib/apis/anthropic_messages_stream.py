"""The Messages API's stream: the stream format lib/stages/streaming.py writes for `POST /v1/messages`
with `"stream": true` (its `StreamFormat`).

An `anthropic` route's own events (a request passed through) are handed on as they came, with
`model` the route's public name in `message_start`. Any other route's pieces are written as Anthropic
writes a stream: `message_start`, then each content block (`content_block_start`, its
`content_block_delta`s: `text_delta` or `input_json_delta`, `content_block_stop`) with a `ping` after
the first one opens, then `message_delta` (stop reason and usage) and `message_stop`. A stream that
breaks off after its first event ends with an `error` event, which the SDK raises.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lib.apis.anthropic_messages_reply import (
    message_reply,
    new_message_id,
    stop_reason,
    usage_fields,
)
from lib.core.answer import Usage
from lib.core.pieces import ChunkHeader, StreamPiece
from lib.core.request import ModelRequest
from lib.providers.upstream_stream import StreamFault

_TIMED_OUT = frozenset({"idle", "max_time"})


def event(data: Mapping[str, Any]) -> bytes:
    """One server-sent event, named after its type (the SDK reads the name)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {data['type']}\ndata: {text}\n\n".encode()


def message_start(message_id: str, model: str, usage: Mapping[str, int] | None = None) -> bytes:
    message: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        # Another route's count comes with its last piece: message_delta carries it.
        "usage": dict(usage or {"input_tokens": 0, "output_tokens": 0}),
    }
    return event({"type": "message_start", "message": message})


def message_end(reason: str, usage: Mapping[str, int]) -> bytes:
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": reason, "stop_sequence": None},
        "usage": dict(usage),
    }
    return event(delta) + event({"type": "message_stop"})


class MessagesStreamWriter:
    """One stream's events; it keeps which content block is open and which block each tool call is."""

    def __init__(self, request: ModelRequest, header: ChunkHeader) -> None:
        self._header = header
        self._started = False
        self._native = False  # the route's own events are being handed on
        self._open: str | None = None  # "text" or "tool_use": the open block's kind
        self._blocks = 0
        self._tool_blocks: dict[int, int] = {}  # the tool call's index -> its block's index
        self._finish_reason: str | None = None

    def start(self) -> bytes:
        return b""  # message_start is a route's own, or written with the first piece

    def piece(self, piece: StreamPiece) -> bytes:
        if piece.native is not None:
            self._native = self._started = True
            return self._native_event(piece.native)
        if self._native:
            return b""  # read from the route's own events, which went out as they came: for the gateway
        out = [self._start()]
        if piece.text:
            out.append(self._open_block("text", {"type": "text", "text": ""}))
            out.append(self._delta(self._blocks - 1, {"type": "text_delta", "text": piece.text}))
        for call in piece.tool_calls or []:
            out.append(self._tool_call(call))
        if piece.finish_reason:
            self._finish_reason = piece.finish_reason
        return b"".join(out)

    def end(self, usage: Usage) -> bytes:
        if self._native:
            return b""  # the route's own message_delta and message_stop went out as they came
        return (
            self._start()
            + self._close_block()
            + message_end(stop_reason(self._finish_reason), usage_fields(usage))
        )

    def fail(self, fault: StreamFault) -> bytes:
        kind = "timeout_error" if fault.kind in _TIMED_OUT else "api_error"
        return event(
            {"type": "error", "error": {"type": kind, "message": f"the model's stream broke off: {fault}"}}
        )

    def _native_event(self, data: dict[str, Any]) -> bytes:
        if data.get("type") == "message_start" and isinstance(data.get("message"), dict):
            data = {**data, "message": {**data["message"], "model": self._header.model}}
        return event(data)

    def _start(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        return message_start(new_message_id(), self._header.model)

    def _tool_call(self, call: Mapping[str, Any]) -> bytes:
        index = call["index"] if isinstance(call.get("index"), int) else 0
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        assert isinstance(function, dict)
        out = b""
        if index not in self._tool_blocks:
            block = {
                "type": "tool_use",
                "id": str(call.get("id") or ""),
                "name": str(function.get("name") or ""),
                "input": {},
            }
            out = self._open_block("tool_use", block, always=True)
            self._tool_blocks[index] = self._blocks - 1
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            out += self._delta(
                self._tool_blocks[index], {"type": "input_json_delta", "partial_json": arguments}
            )
        return out

    def _open_block(self, kind: str, block: Mapping[str, Any], *, always: bool = False) -> bytes:
        """A new block, unless one of this kind is open (each tool call opens its own)."""
        if self._open == kind and not always:
            return b""
        out = self._close_block()
        out += event({"type": "content_block_start", "index": self._blocks, "content_block": dict(block)})
        if self._blocks == 0:
            out += event({"type": "ping"})  # where Anthropic sends it: after the first block opens
        self._open = kind
        self._blocks += 1
        return out

    def _close_block(self) -> bytes:
        if self._open is None:
            return b""
        self._open = None
        return event({"type": "content_block_stop", "index": self._blocks - 1})

    def _delta(self, index: int, delta: Mapping[str, Any]) -> bytes:
        return event({"type": "content_block_delta", "index": index, "delta": dict(delta)})


def writer(request: ModelRequest, header: ChunkHeader) -> MessagesStreamWriter:
    return MessagesStreamWriter(request, header)


def replay(body: Mapping[str, Any], request: ModelRequest, usage: Usage) -> bytes:
    """A whole answer (a cached one) as the stream Anthropic would have sent for it."""
    message = message_reply(body, request, usage)
    out = [message_start(message["id"], message["model"])]
    for index, block in enumerate(message["content"]):
        if block.get("type") == "text":
            out.append(
                event(
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "text", "text": ""},
                    }
                )
            )
            delta: dict[str, Any] | None = {"type": "text_delta", "text": block["text"]}
        elif block.get("type") == "tool_use":
            out.append(
                event(
                    {"type": "content_block_start", "index": index, "content_block": {**block, "input": {}}}
                )
            )
            delta = {
                "type": "input_json_delta",
                "partial_json": json.dumps(block["input"], ensure_ascii=False),
            }
        else:  # thinking and other blocks: whole in their start, as the SDK takes them
            out.append(event({"type": "content_block_start", "index": index, "content_block": block}))
            delta = None
        if delta is not None:
            out.append(event({"type": "content_block_delta", "index": index, "delta": delta}))
        out.append(event({"type": "content_block_stop", "index": index}))
    out.append(message_end(str(message.get("stop_reason") or "end_turn"), message["usage"]))
    return b"".join(out)

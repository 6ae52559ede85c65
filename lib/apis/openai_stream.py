"""OpenAI's streaming chunks (`chat.completion.chunk`, `text_completion`) from provider-neutral pieces,
and the pieces of a whole answer (for a provider that cannot stream, or an answer replayed)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

from lib.providers.base import StreamPiece
from lib.stages.validation import ModelRequest


class ChunkHeader(NamedTuple):
    """What every chunk of one stream repeats."""

    id: str
    created: int
    model: str


def chunk(piece: StreamPiece, request: ModelRequest, header: ChunkHeader) -> dict[str, Any] | None:
    """The chunk for one piece; None for a piece that carries nothing the caller sees (usage only)."""
    if request.kind == "completion":
        if not piece.text and piece.finish_reason is None:
            return None
        choice: dict[str, Any] = {"index": 0, "text": piece.text, "logprobs": None}
        kind = "text_completion"
    else:
        delta: dict[str, Any] = {}
        if piece.role:
            delta["role"] = piece.role
        if piece.text or piece.role:
            delta["content"] = piece.text
        if piece.tool_calls:
            delta["tool_calls"] = piece.tool_calls
        if not delta and piece.finish_reason is None:
            return None
        choice = {"index": 0, "delta": delta, "logprobs": None}
        kind = "chat.completion.chunk"
    choice["finish_reason"] = piece.finish_reason
    return {
        "id": header.id,
        "object": kind,
        "created": header.created,
        "model": header.model,
        "choices": [choice],
    }


def usage_chunk(request: ModelRequest, header: ChunkHeader, usage: Mapping[str, int]) -> dict[str, Any]:
    kind = "text_completion" if request.kind == "completion" else "chat.completion.chunk"
    return {**_head(header, kind), "choices": [], "usage": dict(usage)}


def _head(header: ChunkHeader, kind: str) -> dict[str, Any]:
    return {"id": header.id, "object": kind, "created": header.created, "model": header.model}


def sse(data: Mapping[str, Any] | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"data: {text}\n\n".encode()


def pieces_of(body: Mapping[str, Any], request: ModelRequest) -> list[StreamPiece]:
    """A whole OpenAI-shaped answer as two pieces: its content, then its finish reason and usage."""
    choices = body.get("choices")
    first = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    reason = first.get("finish_reason")
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    assert isinstance(usage, dict)
    counts = (usage.get("prompt_tokens"), usage.get("completion_tokens"))
    ending = StreamPiece(
        finish_reason=reason if isinstance(reason, str) else "stop",
        usage=counts if all(isinstance(count, int) for count in counts) else None,  # type: ignore[arg-type]
    )
    if request.kind == "completion":
        text = first.get("text")
        return [StreamPiece(text=text if isinstance(text, str) else ""), ending]
    message = first.get("message") if isinstance(first.get("message"), dict) else {}
    assert isinstance(message, dict)
    content = message.get("content")
    calls = message.get("tool_calls")
    tool_calls = (
        [{"index": index, **call} for index, call in enumerate(calls) if isinstance(call, dict)]
        if isinstance(calls, list) and calls
        else None
    )
    return [
        StreamPiece(
            text=content if isinstance(content, str) else "", role="assistant", tool_calls=tool_calls
        ),
        ending,
    ]


def answer_of(pieces: list[StreamPiece], request: ModelRequest, header: ChunkHeader) -> dict[str, Any]:
    """A finished stream as the whole OpenAI answer it amounts to (to keep it in the cache)."""
    text = "".join(piece.text for piece in pieces)
    reason = next((piece.finish_reason for piece in reversed(pieces) if piece.finish_reason), "stop")
    if request.kind == "completion":
        choice: dict[str, Any] = {"index": 0, "text": text, "logprobs": None, "finish_reason": reason}
        kind = "text_completion"
    else:
        message: dict[str, Any] = {"role": "assistant", "content": text}
        calls = _tool_calls(pieces)
        if calls:
            message["tool_calls"] = calls
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": reason}
        kind = "chat.completion"
    return {**_head(header, kind), "choices": [choice]}


def _tool_calls(pieces: list[StreamPiece]) -> list[dict[str, Any]]:
    """Tool-call deltas joined by index: the first id, type and name, the arguments concatenated."""
    calls: dict[int, dict[str, Any]] = {}
    for piece in pieces:
        for delta in piece.tool_calls or []:
            call = calls.setdefault(
                int(delta.get("index", 0)), {"type": "function", "function": {"arguments": ""}}
            )
            if delta.get("id"):
                call.setdefault("id", delta["id"])
            function = delta.get("function") or {}
            if function.get("name"):
                call["function"].setdefault("name", function["name"])
            call["function"]["arguments"] += function.get("arguments") or ""
    return [calls[index] for index in sorted(calls)]

"""OpenAI's streaming chunks (`chat.completion.chunk`, `text_completion`) from provider-neutral pieces,
and the pieces of a whole answer (for a provider that cannot stream, or an answer replayed)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lib.core.pieces import ChunkHeader, StreamPiece, chunk_head
from lib.core.request import ModelRequest


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
    return {**chunk_head(header, kind), "choices": [], "usage": dict(usage)}


def sse(data: Mapping[str, Any] | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"data: {text}\n\n".encode()

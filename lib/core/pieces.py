"""A streamed answer in neutral terms: the pieces a provider's stream becomes, the pieces of a whole
answer, and the whole answer a finished stream amounts to (to keep it in the cache)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from lib.core.request import ModelRequest


class StreamPiece:
    """One step of a streamed answer, in provider-neutral terms.

    A provider that speaks OpenAI's own stream also hands over its `chunk` (every field, documented
    ones in their shape: lib/core/openai_shape.py), so an OpenAI caller gets it as sent; every other
    caller format, and the gateway itself (usage, the cached text, faults), reads the neutral fields."""

    def __init__(
        self,
        text: str = "",
        role: str | None = None,
        tool_calls: list[dict[str, Any]] | None = None,  # OpenAI's delta shape: index, id, type, function
        finish_reason: str | None = None,
        usage: tuple[int, int] | None = None,  # (prompt_tokens, completion_tokens), when the provider says
        usage_details: Mapping[str, Any] | None = None,  # OpenAI's prompt/completion_tokens_details
        chunk: Mapping[str, Any] | None = None,  # the provider's OpenAI chunk, every field
        native: dict[str, Any] | None = None,  # the provider's own event, in a piece of its own (Native)
        model: str | None = None,  # the model the provider says is answering, when it says
    ) -> None:
        self.text = text
        self.role = role
        self.tool_calls = tool_calls
        self.finish_reason = finish_reason
        self.usage = usage
        self.usage_details = usage_details
        self.chunk = chunk
        self.native = native
        self.model = model


class ChunkHeader(NamedTuple):
    """What every chunk of one stream repeats."""

    id: str
    created: int
    model: str


def chunk_head(header: ChunkHeader, kind: str) -> dict[str, Any]:
    return {"id": header.id, "object": kind, "created": header.created, "model": header.model}


def pieces_of(body: Mapping[str, Any], request: ModelRequest) -> list[StreamPiece]:
    """A whole OpenAI-shaped answer as two pieces: its content, then its finish reason and usage."""
    choices = body.get("choices")
    first = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    reason = first.get("finish_reason")
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    assert isinstance(usage, dict)
    counts = (usage.get("prompt_tokens"), usage.get("completion_tokens"))
    model = body["model"] if isinstance(body.get("model"), str) else None
    ending = StreamPiece(
        finish_reason=reason if isinstance(reason, str) else "stop",
        usage=counts if all(isinstance(count, int) for count in counts) else None,  # type: ignore[arg-type]
    )
    if request.kind == "completion":
        text = first.get("text")
        return [StreamPiece(text=text if isinstance(text, str) else "", model=model), ending]
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
            text=content if isinstance(content, str) else "",
            role="assistant",
            tool_calls=tool_calls,
            model=model,
        ),
        ending,
    ]


def answer_of(pieces: list[StreamPiece], request: ModelRequest, header: ChunkHeader) -> dict[str, Any]:
    """A finished stream as the whole OpenAI answer it amounts to (to keep it in the cache)."""
    text = "".join(piece.text for piece in pieces)
    reason = next((piece.finish_reason for piece in reversed(pieces) if piece.finish_reason), "stop")
    chunks = [piece.chunk for piece in pieces if piece.chunk is not None]
    if request.kind == "completion":
        choice: dict[str, Any] = {"index": 0, "text": text, "logprobs": None, "finish_reason": reason}
        kind = "text_completion"
    else:
        message: dict[str, Any] = {"role": "assistant", "content": text}
        refusal = "".join(_delta_texts(chunks, "refusal"))
        if refusal:
            message["refusal"] = refusal
        calls = joined_tool_calls(pieces)
        if calls:
            message["tool_calls"] = calls
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": reason}
        kind = "chat.completion"
    # What an OpenAI-compatible provider's chunks said of the whole answer.
    said = {name: chunk[name] for chunk in reversed(chunks) for name in _ANSWER_FIELDS if name in chunk}
    return {**chunk_head(header, kind), **said, "choices": [choice]}


_ANSWER_FIELDS = ("system_fingerprint", "service_tier")


def _delta_texts(chunks: list[Mapping[str, Any]], name: str) -> list[str]:
    """The `name` texts of the chunks' first choice's deltas, in order."""
    texts = []
    for chunk in chunks:
        choices = chunk.get("choices")
        first = choices[0] if isinstance(choices, list) and choices else None
        delta = first.get("delta") if isinstance(first, dict) else None
        if isinstance(delta, dict) and isinstance(delta.get(name), str):
            texts.append(delta[name])
    return texts


def joined_tool_calls(pieces: list[StreamPiece]) -> list[dict[str, Any]]:
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

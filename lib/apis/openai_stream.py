"""OpenAI's streams (`chat.completion.chunk`, `text_completion` server-sent events): the stream format
lib/stages/streaming.py writes for chat and legacy completions (its `StreamFormat`): a `writer` per
stream, and `replay` for a whole answer (a cached one) as a stream."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lib.apis.openai_replies import openai_reply
from lib.core.answer import Usage, completion_text, is_count
from lib.core.pieces import ChunkHeader, StreamPiece, chunk_head
from lib.core.request import ModelRequest
from lib.providers.upstream_stream import StreamFault


class OpenAIStreamWriter:
    """One stream's chunks; the usage chunk when the caller asked for it (`stream_options`), then
    `data: [DONE]`.

    A provider's own OpenAI chunk passes as it was sent, with the route's public `model`; the usage
    it carries is the caller's only when asked for (the gateway always asks the provider: budgets
    need the count). Other providers' pieces are written as chunks of our own."""

    def __init__(self, request: ModelRequest, header: ChunkHeader) -> None:
        self._request = request
        self._header = header
        self._usage_sent = False
        self._usage_details: Mapping[str, Any] = {}

    def start(self) -> bytes:
        return b""

    def piece(self, piece: StreamPiece) -> bytes:
        if piece.usage_details:
            self._usage_details = piece.usage_details
        if piece.chunk is not None:
            return self._passed(piece.chunk)
        return chunk(piece, self._request, self._header) or b""

    def end(self, usage: Usage) -> bytes:
        closing = b""
        if self._request.include_usage and not self._usage_sent:
            closing = usage_chunk(self._request, self._header, usage, self._usage_details)
        return closing + DONE

    def fail(self, fault: StreamFault) -> bytes:
        return error(fault)

    def _passed(self, provider_chunk: Mapping[str, Any]) -> bytes:
        usage_only = provider_chunk.get("choices") == [] and "usage" in provider_chunk
        if not self._request.include_usage:
            if usage_only:
                return b""
            provider_chunk = {name: value for name, value in provider_chunk.items() if name != "usage"}
        elif isinstance(provider_chunk.get("usage"), Mapping):
            self._usage_sent = True
            provider_chunk = {**provider_chunk, "usage": _with_total(provider_chunk["usage"])}
        passed = dict(provider_chunk)
        passed["model"] = self._header.model  # in its place, when the provider named one
        for name, value in chunk_head(self._header, _chunk_object(self._request)).items():
            passed.setdefault(name, value)  # a chunk without them still parses in every SDK
        return sse(passed)


def _with_total(usage: Mapping[str, Any]) -> Mapping[str, Any]:
    """The provider's usage, with `total_tokens` when it sent the two counts only (SDKs read it)."""
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if "total_tokens" in usage or not isinstance(prompt, int) or not isinstance(completion, int):
        return usage
    if not (is_count(prompt) and is_count(completion)):
        return usage
    return {**usage, "total_tokens": prompt + completion}


def writer(request: ModelRequest, header: ChunkHeader) -> OpenAIStreamWriter:
    return OpenAIStreamWriter(request, header)


def chunk(piece: StreamPiece, request: ModelRequest, header: ChunkHeader) -> bytes | None:
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
    return sse(
        {
            "id": header.id,
            "object": kind,
            "created": header.created,
            "model": header.model,
            "choices": [choice],
        }
    )


def usage_chunk(
    request: ModelRequest, header: ChunkHeader, usage: Usage, details: Mapping[str, Any] | None = None
) -> bytes:
    usage_fields = {**usage.as_dict(), **(details or {})}
    return sse({**chunk_head(header, _chunk_object(request)), "choices": [], "usage": usage_fields})


def _chunk_object(request: ModelRequest) -> str:
    return "text_completion" if request.kind == "completion" else "chat.completion.chunk"


def sse(data: Mapping[str, Any] | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"data: {text}\n\n".encode()


DONE = sse("[DONE]")


def error(fault: StreamFault) -> bytes:
    """OpenAI's error shape as an event: the openai SDK raises it as an APIError mid-stream."""
    return sse(
        {
            "error": {
                "message": f"the model's stream broke off: {fault}",
                "type": "api_error",
                "code": f"upstream_stream_{fault.kind}",
                "param": None,
            }
        }
    )


# What every replayed chunk repeats of the whole answer.
_REPLAYED_FIELDS = ("id", "created", "model", "system_fingerprint", "service_tier")


def replay(body: Mapping[str, Any], request: ModelRequest, usage: Usage) -> bytes:
    """A `text/event-stream` body with the whole answer as chunks, as OpenAI's streaming API sends them.

    API Gateway and Lambda buffer the response, so the upstream is called without streaming and the
    chunks are written from its one answer: clients that ask for `stream=true` work unchanged.
    """
    reply = openai_reply(body, request, usage)
    common = {name: reply[name] for name in _REPLAYED_FIELDS if name in reply}
    choices = reply.get("choices") or [{}]
    first = choices[0] if isinstance(choices[0], dict) else {}
    finish_reason = first.get("finish_reason") or "stop"
    logprobs = first.get("logprobs")
    if request.kind == "chat":
        message: dict[str, Any] = first["message"] if isinstance(first.get("message"), dict) else {}
        # Every field the answer had (refusal, function_call, ...), tool calls in their delta shape.
        delta: dict[str, Any] = {"role": "assistant", **message, "content": message.get("content") or ""}
        delta.pop("tool_calls", None)
        if message.get("tool_calls"):
            delta["tool_calls"] = [
                {"index": index, **call}
                for index, call in enumerate(message["tool_calls"])
                if isinstance(call, dict)
            ]
        chunk_object = "chat.completion.chunk"
        chunks = [
            {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": None},
            {"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish_reason},
        ]
    else:
        chunk_object = "text_completion"
        chunks = [
            {"index": 0, "text": completion_text(body), "logprobs": logprobs, "finish_reason": None},
            {"index": 0, "text": "", "logprobs": None, "finish_reason": finish_reason},
        ]
    events = [{**common, "object": chunk_object, "choices": [choice]} for choice in chunks]
    if request.include_usage:
        events.append({**common, "object": chunk_object, "choices": [], "usage": reply["usage"]})
    lines = [f"data: {json.dumps(event, ensure_ascii=False)}\n\n" for event in events]
    lines.append("data: [DONE]\n\n")
    return "".join(lines).encode("utf-8")

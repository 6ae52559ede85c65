"""OpenAI's wire format, spoken by most providers (DeepSeek, Qwen, GLM, Moonshot, Gemini, Groq,
OpenRouter, Ollama, ...): the request is passed on with the route's model, the answer is already ours."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from lib.core.openai_shape import TOOL_CALL_FIELDS, documented
from lib.core.pieces import StreamPiece
from lib.core.request import ModelRequest
from lib.keys.sources import KeySource
from lib.platform.errors import UpstreamError
from lib.platform.route_table import Route
from lib.providers import openai_embeddings
from lib.providers.base import HttpProvider, ProviderContext, http_provider
from lib.providers.upstream import bearer_auth
from lib.providers.upstream_stream import ServerEvent, StreamFault

EXTRA_HEADERS: Mapping[str, str] = {}
# What rotation's testSecret calls: lists models, spends no tokens.
KEY_CHECK_PATH = "/models"
# OpenAI documents `seed` as best-effort determinism; compatible APIs pass it to the model.
HONOURS_SEED = True


def check(request: ModelRequest, route: Route) -> None:
    """Every field an OpenAI-compatible API takes is passed on."""


def build(request: ModelRequest, route: Route) -> tuple[str, dict[str, Any]]:
    if request.kind == "embeddings":
        return openai_embeddings.build(request, route)
    payload = request.upstream_payload()
    payload["model"] = route.upstream_model(request.model)
    return request.upstream_path(), payload


def parse(body: dict[str, Any], request: ModelRequest) -> dict[str, Any]:
    if request.kind == "embeddings":
        return openai_embeddings.parse(body, request)
    if not isinstance(body.get("choices"), list) or not body["choices"]:
        # Some providers answer 200 with {"error": ...}: that is no completion.
        raise UpstreamError("the model API answered without any completion choices")
    return body


def build_stream(request: ModelRequest, route: Route) -> tuple[str, dict[str, Any]]:
    path, payload = build(request, route)
    # The usage chunk is asked for always: budgets need the real count, whatever the caller wants.
    payload["stream"] = True
    payload["stream_options"] = {"include_usage": True}
    return path, payload


def parse_stream(events: Iterable[ServerEvent], request: ModelRequest) -> Iterator[StreamPiece]:
    """OpenAI's chunks, until `data: [DONE]`. A stream that ends without it, and without a finish
    reason, was cut."""
    finished = False
    for event in events:
        if event.data.strip() == "[DONE]":
            return
        try:
            chunk = json.loads(event.data)
        except ValueError:
            raise StreamFault("malformed", "the model sent a chunk that is not JSON") from None
        if not isinstance(chunk, dict) or "error" in chunk:
            raise StreamFault("malformed", "the model sent an error or an unexpected chunk")
        piece = _piece(chunk, request)
        finished = finished or piece.finish_reason is not None
        yield piece
    if not finished:
        raise StreamFault("cut", "the stream ended before the answer did")


def _piece(chunk: dict[str, Any], request: ModelRequest) -> StreamPiece:
    """What the gateway reads from a chunk (usage, the model, text, tool calls, the finish), and the
    chunk itself, every field, to pass on as sent."""
    model = chunk.get("model")
    piece = StreamPiece(
        usage=_usage(chunk.get("usage")),
        model=model if isinstance(model, str) else None,
        chunk=documented(chunk),
    )
    choices = chunk.get("choices")
    if not isinstance(choices, list) or not choices:
        return piece
    choice = choices[0] if isinstance(choices[0], dict) else {}
    reason = choice.get("finish_reason")
    piece.finish_reason = reason if isinstance(reason, str) else None
    if request.kind == "completion":
        piece.text = choice["text"] if isinstance(choice.get("text"), str) else ""
        return piece
    delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
    assert isinstance(delta, dict)
    piece.text = delta["content"] if isinstance(delta.get("content"), str) else ""
    piece.role = delta["role"] if isinstance(delta.get("role"), str) else None
    calls = delta.get("tool_calls")
    if isinstance(calls, list):
        piece.tool_calls = [documented(call, TOOL_CALL_FIELDS) for call in calls if isinstance(call, dict)]
    return piece


def _usage(usage: Any) -> tuple[int, int] | None:
    if not isinstance(usage, dict):
        return None
    prompt, completion = _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))
    return (prompt, completion) if prompt is not None and completion is not None else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def auth_headers(key: str) -> dict[str, str]:
    return bearer_auth(key)


def create(route: Route, key_source: KeySource | None, context: ProviderContext) -> HttpProvider:
    import lib.providers.openai as wire

    return http_provider(wire, route, key_source, context)

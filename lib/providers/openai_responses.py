"""OpenAI's Responses API (`POST {endpoint}/responses`), for an `openai` route that lists
`apis = ["responses"]`: a Responses request is sent as the caller wrote it (`ModelRequest.native`),
except for what the gateway decides: the route's model id, `max_output_tokens` and `temperature` as
validated (the budget reserved them), `stream`, and `store: false` (the gateway keeps the
conversation: lib/stages/stored_responses.py). Nothing is lost in translation (reasoning items,
hosted tools, annotations).

The answer is read as the neutral chat answer (text, function calls, finish reason, usage: budgets,
the cache and fallbacks work as for any route), with the provider's own response beside it
(`native_response`) for the caller's reply. A stream's events are read the same way, each piece
carrying the provider's own event. Any other request on the route goes to the route's chat provider.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from lib.core.pieces import StreamPiece
from lib.core.request import ModelRequest
from lib.platform.deadline import Deadline
from lib.platform.errors import UpstreamError
from lib.platform.route_table import Route
from lib.providers.base import HttpProvider, Provider
from lib.providers.call_stats import CallStats
from lib.providers.upstream import bearer_auth
from lib.providers.upstream_stream import ServerEvent, StreamFault, StreamLimits

EXTRA_HEADERS: Mapping[str, str] = {}
# The response object's own fields (what the caller's reply may take from it): never copied whole, so
# an upstream that echoes the request, its Authorization header included, hands the caller nothing.
_RESPONSE_FIELDS = ("id", "status", "incomplete_details", "output", "usage", "reasoning", "service_tier")
_NOT_A_RESPONSE = "the model API answered with something other than a response"


class NativePiece(StreamPiece):
    """A piece that also carries the provider's own Responses event, for a caller who speaks it."""

    def __init__(self, event: dict[str, Any]) -> None:
        super().__init__()
        self.event = event


def check(request: ModelRequest, route: Route) -> None:
    """The Responses API takes what its caller sent; OpenAI itself refuses what it must."""


def build(request: ModelRequest, route: Route) -> tuple[str, dict[str, Any]]:
    assert request.native is not None
    payload = dict(request.native.body)
    payload["model"] = route.upstream_model(request.model)
    payload["max_output_tokens"] = request.max_tokens
    payload.pop("temperature", None)
    if request.temperature is not None:
        payload["temperature"] = request.temperature
    payload["store"] = False
    return "/responses", payload


def parse(body: dict[str, Any], request: ModelRequest) -> dict[str, Any]:
    """The response as the neutral chat answer, the response's own fields beside it."""
    output, usage = body.get("output"), body.get("usage")
    if body.get("object") != "response" or not isinstance(output, list) or not isinstance(usage, dict):
        raise UpstreamError(_NOT_A_RESPONSE)
    if body.get("status") == "failed":
        raise UpstreamError("the model API answered with a failed response")
    counts = _counts(usage)
    if counts is None:
        raise UpstreamError(_NOT_A_RESPONSE)
    texts, calls = [], []
    for item in output:
        if not isinstance(item, dict):
            raise UpstreamError(_NOT_A_RESPONSE)
        if item.get("type") == "message":
            texts += [part["text"] for part in item.get("content") or [] if _is_text(part)]
        elif item.get("type") == "function_call":
            function = {"name": str(item.get("name") or ""), "arguments": str(item.get("arguments") or "")}
            calls.append({"id": str(item.get("call_id") or ""), "type": "function", "function": function})
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    prompt, completion = counts
    return {
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(body.get("model") or request.model),
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": _finish(body, calls)}
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
        "native_response": {name: body[name] for name in _RESPONSE_FIELDS if name in body},
    }


def build_stream(request: ModelRequest, route: Route) -> tuple[str, dict[str, Any]]:
    path, payload = build(request, route)
    payload["stream"] = True
    return path, payload


def parse_stream(events: Iterable[ServerEvent], request: ModelRequest) -> Iterator[StreamPiece]:
    """The Responses events, each as a piece carrying it; `response.completed` (or `.incomplete`)
    ends the answer. An error event, a failed response, or an end without either is a fault."""
    call_index: dict[Any, int] = {}  # output_index -> chat's tool-call index
    for event in events:
        try:
            data = json.loads(event.data)
        except ValueError:
            raise StreamFault("malformed", "the model sent an event that is not JSON") from None
        kind = data.get("type") if isinstance(data, dict) else None
        if kind in ("error", "response.failed") or not isinstance(kind, str):
            raise StreamFault("malformed", "the model sent an error or an unexpected event")
        piece = NativePiece(data)
        if kind == "response.output_text.delta" and isinstance(data.get("delta"), str):
            piece.text = data["delta"]
        elif kind == "response.output_item.added" and _is_call(data.get("item")):
            item = data["item"]
            index = call_index[data.get("output_index")] = len(call_index)
            function = {"name": str(item.get("name") or ""), "arguments": ""}
            piece.tool_calls = [
                {
                    "index": index,
                    "id": str(item.get("call_id") or ""),
                    "type": "function",
                    "function": function,
                }
            ]
        elif kind == "response.function_call_arguments.delta" and data.get("output_index") in call_index:
            arguments = {"arguments": str(data.get("delta") or "")}
            piece.tool_calls = [{"index": call_index[data["output_index"]], "function": arguments}]
        elif kind in ("response.completed", "response.incomplete"):
            response = data.get("response") if isinstance(data.get("response"), dict) else {}
            assert isinstance(response, dict)
            piece.finish_reason = _finish(response, list(call_index))
            piece.usage = _counts(response.get("usage"))
            yield piece
            return
        yield piece
    raise StreamFault("cut", "the stream ended before the response did")


def _finish(response: Mapping[str, Any], calls: list[Any]) -> str:
    details = response.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, dict) else None
    if response.get("status") == "incomplete":
        return "content_filter" if reason == "content_filter" else "length"
    return "tool_calls" if calls else "stop"


def _counts(usage: Any) -> tuple[int, int] | None:
    if not isinstance(usage, dict):
        return None
    prompt, completion = _count(usage.get("input_tokens")), _count(usage.get("output_tokens"))
    if prompt is None or completion is None:
        return None
    return prompt, completion


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _is_text(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") == "output_text" and isinstance(part.get("text"), str)


def _is_call(item: Any) -> bool:
    return isinstance(item, dict) and item.get("type") == "function_call"


def auth_headers(key: str) -> dict[str, str]:
    return bearer_auth(key)


class SpeaksResponses:
    """An openai route's provider that also speaks the Responses API: a Responses request goes to
    `/responses` as it came, anything else to the route's chat provider."""

    def __init__(self, chat: HttpProvider) -> None:
        import lib.providers.openai_responses as wire

        self.route = chat.route
        self.client = chat.client  # the route's one HTTP client (endpoints, key, retries)
        self._chat = chat
        self._native = HttpProvider(wire, chat.route, chat.client)

    def _for(self, request: ModelRequest) -> Provider:
        native = request.native is not None and request.native.api == "responses"
        return self._native if native else self._chat

    def check(self, request: ModelRequest) -> None:
        self._for(request).check(request)

    def complete(self, request: ModelRequest, deadline: Deadline, stats: CallStats) -> dict[str, Any]:
        return self._for(request).complete(request, deadline, stats)

    def open_stream(
        self, request: ModelRequest, deadline: Deadline, stats: CallStats, limits: StreamLimits
    ) -> Iterator[StreamPiece] | None:
        return self._for(request).open_stream(request, deadline, stats, limits)

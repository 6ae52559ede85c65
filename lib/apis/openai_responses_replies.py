"""The Responses API's replies: the neutral answer (or, from a route that passes the request through,
the provider's own output) as a `response` object, its output items, and the listing of a stored
response's input items, the deletion and the input token count."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from lib.apis.openai_responses import ResponsesCall
from lib.apis.openai_responses_items import new_item_id
from lib.core.answer import Usage, is_count
from lib.core.request import ModelRequest

# chat's finish_reason -> the response's incomplete_details.reason (others complete it).
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


class Turn(NamedTuple):
    """What one response is, besides its answer: its id, when it began, the route's public name."""

    response_id: str
    created_at: int
    model: str
    store: bool  # whether it is to be kept (store asked for, and stored responses on)


def output_of(body: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """A chat answer's message and tool calls as output items, and its finish reason."""
    choices = body.get("choices")
    first = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    message = first.get("message") if isinstance(first.get("message"), dict) else {}
    assert isinstance(message, dict)
    items: list[dict[str, Any]] = []
    text = message.get("content")
    calls = [call for call in message.get("tool_calls") or [] if isinstance(call, dict)]
    if isinstance(text, str) and (text or not calls):
        items.append(message_item(text))
    for call in calls:
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        assert isinstance(function, dict)
        items.append(
            function_call_item(
                str(call.get("id") or new_item_id("call")),
                str(function.get("name") or ""),
                str(function.get("arguments") or ""),
            )
        )
    reason = first.get("finish_reason")
    return items, reason if isinstance(reason, str) else "stop"


def message_item(text: str, status: str = "completed", item_id: str | None = None) -> dict[str, Any]:
    return {
        "id": item_id or new_item_id("msg"),
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }


def function_call_item(
    call_id: str, name: str, arguments: str, status: str = "completed", item_id: str | None = None
) -> dict[str, Any]:
    return {
        "id": item_id or new_item_id("fc"),
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": call_id,
        "name": name,
    }


def reply(
    body: Mapping[str, Any], request: ModelRequest, usage: Usage, call: ResponsesCall, turn: Turn
) -> dict[str, Any]:
    """A whole answer as the `response` object."""
    native = body.get("native_response") if request.native is not None else None
    if isinstance(native, dict) and isinstance(native.get("output"), list):
        output = native["output"]
        reason = native.get("incomplete_details") or {}
        status = "incomplete" if native.get("status") == "incomplete" else "completed"
        incomplete = reason.get("reason") if isinstance(reason, dict) and status == "incomplete" else None
        details = native["usage"] if isinstance(native.get("usage"), dict) else {}
    else:
        output, finish_reason = output_of(body)
        incomplete = _INCOMPLETE.get(finish_reason)
        status = "incomplete" if incomplete else "completed"
        details = _chat_details(body.get("usage")) if not usage.estimated else {}
    return response_object(
        call,
        request,
        turn,
        output=output,
        status=status,
        incomplete=incomplete,
        usage=usage_object(usage, details),
        native=native if isinstance(native, dict) else None,
    )


def response_object(
    call: ResponsesCall,
    request: ModelRequest,
    turn: Turn,
    *,
    output: list[dict[str, Any]],
    status: str,
    incomplete: str | None = None,
    usage: dict[str, Any] | None = None,
    error: dict[str, str] | None = None,
    native: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The `response` object, in OpenAI's field order; what the caller asked for echoed."""
    body = call.body
    text = dict(body["text"]) if isinstance(body.get("text"), dict) else {}
    text.setdefault("format", {"type": "text"})
    finished = status in ("completed", "incomplete")
    response: dict[str, Any] = {
        "id": turn.response_id,
        "object": "response",
        "created_at": turn.created_at,
        "status": status,
        "background": False,
        "completed_at": int(time.time()) if finished else None,
        "error": error,
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "instructions": body.get("instructions"),
        "max_output_tokens": request.max_tokens,
        "max_tool_calls": body.get("max_tool_calls"),
        "model": turn.model,
        "output": output,
        "output_text": output_text(output),
        "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
        "previous_response_id": call.previous_response_id,
        "reasoning": (native or {}).get("reasoning") or {"effort": None, "summary": None},
        "service_tier": (native or {}).get("service_tier") or "default",
        "store": turn.store,
        "temperature": request.temperature,
        "text": text,
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p"),
        "truncation": body.get("truncation") or "disabled",
        "usage": usage,
        "user": body.get("user"),
        "metadata": call.metadata,
    }
    return response


def output_text(output: list[dict[str, Any]]) -> str:
    """What the SDKs' `output_text` gives: every output_text part of every message, joined."""
    return "".join(
        part["text"]
        for item in output
        if isinstance(item, dict) and item.get("type") == "message"
        for part in item.get("content") or []
        if isinstance(part, dict) and part.get("type") == "output_text" and isinstance(part.get("text"), str)
    )


def usage_object(usage: Usage, details: Mapping[str, Any]) -> dict[str, Any]:
    """The gateway's usage (what budgets were charged) with the provider's token details, if any."""
    given_input = details.get("input_tokens_details")
    given_output = details.get("output_tokens_details")
    input_details = given_input if isinstance(given_input, dict) else {}
    output_details = given_output if isinstance(given_output, dict) else {}
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": _count(input_details.get("cached_tokens")),
            "cache_write_tokens": _count(input_details.get("cache_write_tokens")),
        },
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": _count(output_details.get("reasoning_tokens"))},
        "total_tokens": usage.total_tokens,
    }


def _chat_details(usage: Any) -> dict[str, Any]:
    """Chat's usage details under the Responses API's names."""
    if not isinstance(usage, dict):
        return {}
    prompt = usage.get("prompt_tokens_details")
    completion = usage.get("completion_tokens_details")
    return {
        "input_tokens_details": {"cached_tokens": prompt.get("cached_tokens")}
        if isinstance(prompt, dict)
        else {},
        "output_tokens_details": (
            {"reasoning_tokens": completion.get("reasoning_tokens")} if isinstance(completion, dict) else {}
        ),
    }


def _count(value: Any) -> int:
    return value if is_count(value) else 0


def input_items_page(
    items: list[dict[str, Any]], order: str, after: str | None, limit: int
) -> dict[str, Any]:
    """`GET /v1/responses/{id}/input_items`: a cursor page (newest first unless order=asc)."""
    ordered = items if order == "asc" else list(reversed(items))
    if after is not None:
        ids = [item.get("id") for item in ordered]
        ordered = ordered[ids.index(after) + 1 :] if after in ids else []
    page = ordered[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0].get("id") if page else None,
        "last_id": page[-1].get("id") if page else None,
        "has_more": len(ordered) > limit,
    }


def deleted(response_id: str) -> dict[str, Any]:
    return {"id": response_id, "object": "response.deleted", "deleted": True}


def input_tokens_count(input_tokens: int) -> dict[str, Any]:
    """`POST /v1/responses/input_tokens`'s reply."""
    return {"object": "response.input_tokens", "input_tokens": input_tokens}

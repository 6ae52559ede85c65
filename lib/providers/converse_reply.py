"""Bedrock's Converse API, the answer's half: Converse's reply as an OpenAI `chat.completion` or
`text_completion` body, or an UpstreamError (502) when it is not in the shape the API documents."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lib.errors import UpstreamError
from lib.route_table import Route
from lib.validation import ModelRequest

_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}
# Stop reasons that mean there is no usable answer.
_MALFORMED = frozenset({"malformed_model_output", "malformed_tool_use"})


def parse(response: Mapping[str, Any], request: ModelRequest, route: Route) -> dict[str, Any]:
    """Converse's answer as an OpenAI `chat.completion` (or `text_completion`); UpstreamError otherwise."""
    output = response.get("output")
    message = output.get("message") if isinstance(output, dict) else None
    blocks = message.get("content") if isinstance(message, dict) else None
    stop_reason = response.get("stopReason")
    if not isinstance(blocks, list) or not isinstance(stop_reason, str):
        raise _unexpected(route, "no output message or stop reason")
    if stop_reason in _MALFORMED:
        raise UpstreamError(f"Bedrock (route {route.name!r}) ended with {stop_reason}: no usable answer")
    texts: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    for block in blocks:
        if not isinstance(block, dict):
            raise _unexpected(route, "a content block is not an object")
        if "text" in block:
            if not isinstance(block["text"], str):
                raise _unexpected(route, "a text block holds no text")
            texts.append(block["text"])
        elif "toolUse" in block:
            tool_calls.append(_tool_call(block["toolUse"], route))
        # Other blocks (reasoning, citations, ...) have no field in OpenAI's reply.
    finish_reason = _FINISH_REASONS.get(stop_reason, "stop")
    text = "".join(texts)
    body: dict[str, Any] = {"model": route.name}
    if request.kind == "completion":
        body["object"] = "text_completion"
        body["choices"] = [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}]
    else:
        reply: dict[str, Any] = {"role": "assistant", "content": text if texts or not tool_calls else None}
        if tool_calls:
            reply["tool_calls"] = tool_calls
        body["object"] = "chat.completion"
        body["choices"] = [{"index": 0, "message": reply, "finish_reason": finish_reason}]
    usage = response.get("usage")
    if (
        isinstance(usage, dict)
        and _is_count(usage.get("inputTokens"))
        and _is_count(usage.get("outputTokens"))
    ):
        prompt_tokens, completion_tokens = usage["inputTokens"], usage["outputTokens"]
        body["usage"] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
    # Without usage the gateway estimates the tokens (and says so), as for any provider.
    return body


def _tool_call(tool_use: Any, route: Route) -> dict[str, Any]:
    if (
        not isinstance(tool_use, dict)
        or not isinstance(tool_use.get("toolUseId"), str)
        or not isinstance(tool_use.get("name"), str)
        or "input" not in tool_use
    ):
        raise _unexpected(route, "a tool use without id, name or input")
    return {
        "id": tool_use["toolUseId"],
        "type": "function",
        "function": {"name": tool_use["name"], "arguments": json.dumps(tool_use["input"])},
    }


def _unexpected(route: Route, what: str) -> UpstreamError:
    return UpstreamError(f"Bedrock answered route {route.name!r} in an unexpected shape ({what})")


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0

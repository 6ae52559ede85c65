"""Bedrock's Converse API, the answer's half: Converse's reply as an OpenAI `chat.completion` or
`text_completion` body, or an UpstreamError (502) when it is not in the shape the API documents.
Its stop reasons and usage are read the same way for ConverseStream (converse_stream.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from lib.core.openai_shape import prompt_cache_details
from lib.core.request import ModelRequest
from lib.platform.errors import UpstreamError
from lib.platform.route_table import Route

_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}
_ERROR_CODE = re.compile(r"[A-Za-z][A-Za-z0-9.]{0,63}")
# Stop reasons that mean there is no usable answer.
MALFORMED_STOPS = frozenset({"malformed_model_output", "malformed_tool_use"})


def parse(response: Mapping[str, Any], request: ModelRequest, route: Route) -> dict[str, Any]:
    """Converse's answer as an OpenAI `chat.completion` (or `text_completion`); UpstreamError otherwise."""
    output = response.get("output")
    message = output.get("message") if isinstance(output, dict) else None
    blocks = message.get("content") if isinstance(message, dict) else None
    stop_reason = response.get("stopReason")
    if not isinstance(blocks, list) or not isinstance(stop_reason, str):
        raise _unexpected(route, "no output message or stop reason")
    if stop_reason in MALFORMED_STOPS:
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
    finish_reason = finish_reason_of(stop_reason)
    text = "".join(texts)
    body: dict[str, Any] = {"model": route.model or route.name}  # Bedrock answers as the model id called
    if request.kind == "completion":
        body["object"] = "text_completion"
        body["choices"] = [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}]
    else:
        reply: dict[str, Any] = {"role": "assistant", "content": text if texts or not tool_calls else None}
        if tool_calls:
            reply["tool_calls"] = tool_calls
        body["object"] = "chat.completion"
        body["choices"] = [{"index": 0, "message": reply, "finish_reason": finish_reason}]
    counts = token_counts(response.get("usage"))
    if counts is not None:
        prompt_tokens, completion_tokens = counts
        body["usage"] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            **(usage_details(response["usage"]) or {}),
        }
    # Without usage the gateway estimates the tokens (and says so), as for any provider.
    return body


def finish_reason_of(stop_reason: str) -> str:
    return _FINISH_REASONS.get(stop_reason, "stop")


def token_counts(usage: Any) -> tuple[int, int] | None:
    """(prompt_tokens, completion_tokens) from Converse's `usage`; None when it is not there whole.
    Tokens read from or written to the prompt cache are prompt tokens too: all of them are billed."""
    if (
        isinstance(usage, dict)
        and _is_count(usage.get("inputTokens"))
        and _is_count(usage.get("outputTokens"))
    ):
        cached = sum(usage[name] for name in _CACHE_COUNTS if _is_count(usage.get(name)))
        return usage["inputTokens"] + cached, usage["outputTokens"]
    return None


_CACHE_COUNTS = ("cacheReadInputTokens", "cacheWriteInputTokens")


def usage_details(usage: Any) -> dict[str, Any] | None:
    """The prompt cache's reads and writes, in OpenAI's usage details."""
    if not isinstance(usage, dict):
        return None
    read, written = (usage.get(name) if _is_count(usage.get(name)) else None for name in _CACHE_COUNTS)
    return prompt_cache_details(read, written)


def error_code(exc: Any) -> str:
    """A botocore ClientError's code, never its message (which can quote the request). ConverseStream's
    exception events name theirs in camel case (`throttlingException`): capitalised, as Converse's."""
    code = exc.response.get("Error", {}).get("Code")
    if not isinstance(code, str) or not _ERROR_CODE.fullmatch(code):
        return "an unnamed error"
    return code[0].upper() + code[1:]


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

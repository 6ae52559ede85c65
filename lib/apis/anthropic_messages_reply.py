"""Answers in the Messages API's shape: a `message` object, a token count, the model list.

An `anthropic` route's own message (`NATIVE_REPLY`, when the request was passed through) is handed
on whole, with `model` the route's public name. Any other route's neutral answer is written as one:
its text as a `text` block, its tool calls as `tool_use` blocks, its finish reason as `stop_reason`,
its usage as `input_tokens` (less the tokens read from a prompt cache, which are
`cache_read_input_tokens`, as Anthropic counts them) and `output_tokens`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from lib.core.answer import Usage, completion_text
from lib.core.request import NATIVE_REPLY, ModelRequest

# OpenAI's finish_reason -> Anthropic's stop_reason.
STOP_REASONS: Mapping[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def message_reply(body: Mapping[str, Any], request: ModelRequest, usage: Usage) -> dict[str, Any]:
    model = str(body.get("model") or request.model)
    native = body.get(NATIVE_REPLY)
    if isinstance(native, dict):
        return {**native, "model": model}
    choices = body.get("choices")
    first = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    message = first.get("message") if isinstance(first.get("message"), dict) else {}
    assert isinstance(message, dict)
    calls = [call for call in message.get("tool_calls") or [] if isinstance(call, dict)]
    content = [tool_use_block(call) for call in calls]
    text = completion_text(body)
    if text or not content:
        content.insert(0, {"type": "text", "text": text})
    return {
        "id": new_message_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(first.get("finish_reason")),
        "stop_sequence": None,
        "usage": usage_fields(usage, body.get("usage")),
    }


def tool_use_block(call: Mapping[str, Any]) -> dict[str, Any]:
    function = call.get("function") if isinstance(call.get("function"), dict) else {}
    assert isinstance(function, dict)
    return {
        "type": "tool_use",
        "id": str(call.get("id") or f"toolu_{uuid.uuid4().hex[:24]}"),
        "name": str(function.get("name") or ""),
        "input": tool_input(function.get("arguments")),
    }


def tool_input(arguments: Any) -> dict[str, Any]:
    """A tool call's arguments (JSON text) as the object `input` is; what is no JSON object is kept
    whole under "arguments", so nothing the model wrote is lost."""
    try:
        parsed = json.loads(arguments) if isinstance(arguments, str) and arguments else {}
    except ValueError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {"arguments": arguments}


def stop_reason(finish_reason: Any) -> str:
    return STOP_REASONS.get(finish_reason, "end_turn") if isinstance(finish_reason, str) else "end_turn"


def usage_fields(usage: Usage, reported: Any = None) -> dict[str, int]:
    """Anthropic's usage: input tokens less those read from a prompt cache, which it counts apart."""
    details = reported.get("prompt_tokens_details") if isinstance(reported, dict) else None
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    cache_read = cached if isinstance(cached, int) and 0 <= cached <= usage.prompt_tokens else 0
    return {
        "input_tokens": usage.prompt_tokens - cache_read,
        "output_tokens": usage.completion_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cache_read,
    }


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex[:24]}"


def count_reply(input_tokens: int) -> dict[str, Any]:
    return {"input_tokens": input_tokens}


def model_info(entry: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAI model entry (lib/apis/openai_replies.py) as Anthropic's ModelInfo."""
    created = entry.get("created") if isinstance(entry.get("created"), int) else 0
    return {
        "type": "model",
        "id": entry["id"],
        "display_name": entry["id"],
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
    }


def models_page(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The whole list as one page (the gateway serves a handful of routes)."""
    data = [model_info(entry) for entry in entries]
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }

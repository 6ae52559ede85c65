"""Shape upstream answers for the caller: the original `/api/generate` reply, OpenAI JSON, or SSE."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from lib.core.answer import Usage, is_count
from lib.core.request import ModelRequest


def openai_reply(body: Mapping[str, Any], request: ModelRequest, usage: Usage) -> dict[str, Any]:
    """The upstream's OpenAI object, with usage always present (SDKs and budgets rely on it).

    Built from the fields OpenAI's contract names, at every level, never copied whole: an upstream
    (or a proxy in front of it) that echoes the request, its `Authorization` header included, in a
    field of its own must not hand the provider key to the caller.
    """
    reply = _known(body, _REPLY_FIELDS)
    reply["choices"] = [_choice(choice) for choice in _list(body.get("choices")) if isinstance(choice, dict)]
    reply.setdefault("id", new_id("chatcmpl" if request.kind == "chat" else "cmpl"))
    reply.setdefault("object", "chat.completion" if request.kind == "chat" else "text_completion")
    reply.setdefault("created", int(time.time()))
    reply.setdefault("model", request.model)
    details = _known(body.get("usage"), _USAGE_DETAILS) if not usage.estimated else {}
    reply["usage"] = {**details, **usage.as_dict()}
    return reply


# OpenAI's chat.completion and text_completion objects, level by level (what SDKs read).
_REPLY_FIELDS = ("id", "object", "created", "model", "system_fingerprint", "service_tier")
_CHOICE_FIELDS = ("index", "text", "logprobs", "finish_reason")
_MESSAGE_FIELDS = ("role", "content", "refusal", "reasoning_content", "annotations", "audio", "function_call")
_TOOL_CALL_FIELDS = ("index", "id", "type", "function")
_FUNCTION_FIELDS = ("name", "arguments")
_USAGE_DETAILS = ("prompt_tokens_details", "completion_tokens_details")


def _choice(choice: Mapping[str, Any]) -> dict[str, Any]:
    shaped = _known(choice, _CHOICE_FIELDS)
    message = choice.get("message")
    if isinstance(message, dict):
        shaped["message"] = _known(message, _MESSAGE_FIELDS)
        if isinstance(message.get("tool_calls"), list):
            shaped["message"]["tool_calls"] = [
                _tool_call(call) for call in message["tool_calls"] if isinstance(call, dict)
            ]
        if isinstance(message.get("function_call"), dict):
            shaped["message"]["function_call"] = _known(message["function_call"], _FUNCTION_FIELDS)
    return shaped


def _tool_call(call: Mapping[str, Any]) -> dict[str, Any]:
    shaped = _known(call, _TOOL_CALL_FIELDS)
    if isinstance(call.get("function"), dict):
        shaped["function"] = _known(call["function"], _FUNCTION_FIELDS)
    return shaped


def _known(value: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        return {}
    return {name: value[name] for name in fields if name in value}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def model_entry(source: Mapping[str, Any] | str) -> dict[str, Any] | None:
    """One model in OpenAI's full shape (`id`, `object`, `created`, `owned_by`), from an upstream entry
    or a bare name; None for an entry without a usable id. Strict clients reject entries missing a field."""
    raw: Mapping[str, Any] = {"id": source} if isinstance(source, str) else source
    model_id = raw.get("id")
    if not isinstance(model_id, str) or not model_id:
        return None
    created = raw.get("created")
    owned_by = raw.get("owned_by")
    return {
        "id": model_id,
        "object": "model",
        "created": created if is_count(created) else 0,  # unknown: the epoch, not a made-up date
        "owned_by": owned_by if isinstance(owned_by, str) and owned_by else "modelgate",
    }


def model_entries(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The entries of an upstream's model list (`{"data": [...]}`), each in OpenAI's full shape."""
    data = body.get("data")
    entries = (
        (model_entry(item) for item in data if isinstance(item, dict | str)) if isinstance(data, list) else ()
    )
    return [entry for entry in entries if entry is not None]


def models_reply(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "data": entries}


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"

"""Shape upstream answers for the caller: the original `/api/generate` reply, OpenAI JSON, or SSE."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from lib.core.answer import Usage, is_count
from lib.core.openai_shape import CHOICE_FIELDS, documented
from lib.core.request import ModelRequest


def openai_reply(body: Mapping[str, Any], request: ModelRequest, usage: Usage) -> dict[str, Any]:
    """The upstream's OpenAI object with every documented field, in its order, and usage always
    present (SDKs and budgets rely on it): the counts the gateway settled, with the provider's details.

    Fields no document names pass as sent too (lib/core/openai_shape.py)."""
    reply: dict[str, Any] = documented(body)
    choices = body.get("choices")
    reply["choices"] = [
        documented(choice, CHOICE_FIELDS) for choice in _list(choices) if isinstance(choice, dict)
    ]
    reply.setdefault("id", new_id("chatcmpl" if request.kind == "chat" else "cmpl"))
    reply.setdefault("object", "chat.completion" if request.kind == "chat" else "text_completion")
    reply.setdefault("created", int(time.time()))
    reply.setdefault("model", request.model)
    reported = reply.get("usage")
    details = (
        {name: value for name, value in reported.items() if name.endswith("_details")}
        if isinstance(reported, dict) and not usage.estimated
        else {}
    )
    reply["usage"] = {**usage.as_dict(), **details}
    return reply


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

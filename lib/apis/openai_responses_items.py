"""The Responses API's items: the caller's `input` (a string or items) checked and given ids, as a
stored response keeps them, and a conversation's items as chat messages, the neutral request's form.

What chat messages cannot say (a file, an image given by file id, an item reference, a hosted tool's
call) is not refused here: it is returned as `Untranslatable`, which is a 400 naming it unless the
chosen route passes Responses requests through to a provider that takes them; the translation keeps
it as it came, so that a fallback which does not speak the Responses API refuses it rather than
answering without it. Reasoning items hold
no text a model other than their author can read: they are left out of the translation.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, NamedTuple

from lib.platform.errors import InvalidRequest

INPUT_ROLES = frozenset({"user", "system", "developer", "assistant"})


class Untranslatable(NamedTuple):
    """A part of the request only a route that speaks the Responses API itself can take."""

    param: str
    what: str  # "an input_file part", "the built-in tool web_search", ...

    def error(self) -> InvalidRequest:
        return InvalidRequest(
            f"{self.param} ({self.what}) cannot be translated for this route's provider; only a route "
            'whose provider speaks the Responses API itself (apis = ["responses"]) can take it',
            param=self.param,
            code="unsupported_parameter",
        )


def new_item_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def input_items(value: Any) -> list[dict[str, Any]]:
    """The caller's `input` as items with ids and a status, as `GET .../input_items` lists them."""
    if isinstance(value, str):
        if not value:
            raise InvalidRequest("input must not be empty", param="input", code="missing_prompt")
        return [_message("user", [{"type": "input_text", "text": value}], None)]
    if not isinstance(value, list) or not value:
        raise InvalidRequest(
            "input must be a string or a non-empty array of items", param="input", code="missing_prompt"
        )
    return [_item(item, f"input[{index}]") for index, item in enumerate(value)]


def _item(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise InvalidRequest(f"{where} must be an object", param=where)
    kind = item.get("type", "message" if "role" in item else None)
    if kind == "message":
        role = item.get("role")
        if not isinstance(role, str) or role not in INPUT_ROLES:
            raise InvalidRequest(
                f"{where}.role must be one of {', '.join(sorted(INPUT_ROLES))}", param=f"{where}.role"
            )
        return _message(role, _parts(item.get("content"), role, f"{where}.content"), item.get("id"))
    if kind == "function_call":
        _require_strings(item, ("call_id", "name", "arguments"), where)
        return {
            "id": _id(item, "fc"),
            "type": "function_call",
            "call_id": item["call_id"],
            "name": item["name"],
            "arguments": item["arguments"],
            "status": "completed",
        }
    if kind == "function_call_output":
        _require_strings(item, ("call_id",), where)
        output = item.get("output")
        if not isinstance(output, str) and not _is_parts(output):
            raise InvalidRequest(
                f"{where}.output must be a string or an array of content parts", param=f"{where}.output"
            )
        return {
            "id": _id(item, "fco"),
            "type": "function_call_output",
            "call_id": item["call_id"],
            "output": output,
            "status": "completed",
        }
    if not isinstance(kind, str) or not kind:
        raise InvalidRequest(f"{where} must have a type (message, function_call, ...)", param=f"{where}.type")
    return dict(item)  # reasoning, item_reference, a hosted tool's call: kept as the caller sent it


def _message(role: str, content: list[dict[str, Any]], item_id: Any) -> dict[str, Any]:
    return {
        "id": item_id if isinstance(item_id, str) and item_id else new_item_id("msg"),
        "type": "message",
        "role": role,
        "content": content,
        "status": "completed",
    }


def _parts(content: Any, role: str, where: str) -> list[dict[str, Any]]:
    """Content parts in the shape the role's items have: input parts, or an assistant's output parts."""
    if isinstance(content, str):
        content = [{"type": "input_text", "text": content}]
    if not _is_parts(content):
        raise InvalidRequest(f"{where} must be a string or an array of content parts", param=where)
    parts = []
    for index, part in enumerate(content):
        kind = part["type"]
        if kind in ("input_text", "output_text", "text"):
            if not isinstance(part.get("text"), str):
                raise InvalidRequest(
                    f"{where}[{index}].text must be a string", param=f"{where}[{index}].text"
                )
            if role == "assistant":
                annotations = part.get("annotations")
                part = {"type": "output_text", "text": part["text"], "annotations": annotations or []}
            else:
                part = {"type": "input_text", "text": part["text"]}
        parts.append(dict(part))
    return parts


def _is_parts(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(part, dict) and isinstance(part.get("type"), str) for part in value
    )


def _require_strings(item: dict[str, Any], names: tuple[str, ...], where: str) -> None:
    for name in names:
        if not isinstance(item.get(name), str) or (name != "arguments" and not item[name]):
            raise InvalidRequest(f"{where}.{name} must be a non-empty string", param=f"{where}.{name}")


def _id(item: dict[str, Any], prefix: str) -> str:
    value = item.get("id")
    return value if isinstance(value, str) and value else new_item_id(prefix)


def chat_messages(
    labelled: Iterable[tuple[str, dict[str, Any]]],
) -> tuple[list[dict[str, Any]], list[Untranslatable]]:
    """Items (each with the param that names it in errors) as chat messages, and what has no chat form."""
    messages: list[dict[str, Any]] = []
    untranslatable: list[Untranslatable] = []
    for where, item in labelled:
        kind = item.get("type")
        if kind == "message":
            content, missing = _chat_content(item["content"], item["role"], f"{where}.content")
            untranslatable.extend(missing)
            messages.append({"role": item["role"], "content": content})
        elif kind == "function_call":
            call = {
                "id": item["call_id"],
                "type": "function",
                "function": {"name": item["name"], "arguments": item["arguments"]},
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
                if last["content"] == "":
                    last["content"] = None
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item["output"]
            if not isinstance(output, str):
                text, missing = _chat_content(output, "tool", f"{where}.output")
                untranslatable.extend(missing)
                output = text
            messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": output})
        elif kind != "reasoning":
            untranslatable.append(Untranslatable(where, f"the {kind} item"))
            messages.append({"role": "user", "content": [dict(item)]})  # as it is: see _chat_content
    return messages, untranslatable


def _chat_content(
    parts: list[dict[str, Any]], role: str, where: str
) -> tuple[str | list[dict[str, Any]], list[Untranslatable]]:
    """A message's parts as chat content: one text is a string (what every provider takes)."""
    chat: list[dict[str, Any]] = []
    missing: list[Untranslatable] = []
    for index, part in enumerate(parts):
        kind = part["type"]
        if kind in ("input_text", "output_text"):
            chat.append({"type": "text", "text": part["text"]})
        elif kind == "refusal" and isinstance(part.get("refusal"), str):
            chat.append({"type": "text", "text": part["refusal"]})
        elif kind == "input_image" and isinstance(part.get("image_url"), str) and role == "user":
            image = {"url": part["image_url"]}
            if isinstance(part.get("detail"), str) and part["detail"] != "auto":
                image["detail"] = part["detail"]
            chat.append({"type": "image_url", "image_url": image})
        else:
            # Kept as it is: a fallback that does not speak the Responses API refuses it by name, and
            # never answers without it (the chosen route, if it does not, is a 400 before any call).
            chat.append(dict(part))
            missing.append(Untranslatable(f"{where}[{index}]", f"the {kind} part"))
    if all(part["type"] == "text" for part in chat) and len(chat) <= 1:
        return (chat[0]["text"] if chat else ""), missing
    return chat, missing

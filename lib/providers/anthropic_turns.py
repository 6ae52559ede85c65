"""OpenAI chat messages as turns of Anthropic's Messages API, or a 400 naming what cannot be sent.

System and developer messages become the one `system` text; `tool` messages become `tool_result`
blocks in a user turn and assistant `tool_calls` become `tool_use` blocks; consecutive messages of one
role share a turn, as the Messages API requires user and assistant to alternate.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from lib.platform.errors import InvalidRequest
from lib.platform.route_table import Route

_IMAGE_DATA_URL = re.compile(r"data:(image/(?:jpeg|png|gif|webp));base64,([A-Za-z0-9+/=\s]+)", re.DOTALL)


def refusal(route: Route, field: str, problem: str = "is not supported by") -> InvalidRequest:
    """The 400 for what Anthropic would refuse: "seed is not supported by route 'claude' (anthropic)"."""
    code = "unsupported_parameter" if problem == "is not supported by" else "invalid_request"
    return InvalidRequest(f"{field} {problem} route {route.name!r} (anthropic)", param=field, code=code)


def conversation(messages: tuple[Mapping[str, Any], ...], route: Route) -> tuple[str, list[dict[str, Any]]]:
    """The system text, and the turns: user and assistant alternating, as the Messages API requires."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        where, role, content = f"messages[{index}]", message.get("role"), message.get("content")
        if role in ("system", "developer"):
            system.extend(block["text"] for block in _blocks(content, where, route, images=False))
            continue
        if role == "user":
            blocks = _blocks(content, where, route, images=True)
        elif role == "assistant":
            blocks = _blocks(content, where, route, images=False)
            blocks += _tool_uses(message.get("tool_calls"), where, route)
        elif role == "tool":
            role, blocks = "user", [_tool_result(message, content, where, route)]
        else:
            raise refusal(route, f"{where}.role", f"{role!r} is not supported by")
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    _trim_prefill(turns)
    if not turns:
        raise refusal(route, "messages", "must hold a user or assistant message for")
    return "\n\n".join(system), turns


def _trim_prefill(turns: list[dict[str, Any]]) -> None:
    """A final assistant turn is a prefill Anthropic continues; it refuses one ending in whitespace."""
    if not turns or turns[-1]["role"] != "assistant" or turns[-1]["content"][-1]["type"] != "text":
        return
    blocks = turns[-1]["content"]
    blocks[-1]["text"] = blocks[-1]["text"].rstrip()
    if not blocks[-1]["text"]:
        blocks.pop()
        if not blocks:
            turns.pop()


def _blocks(content: Any, where: str, route: Route, *, images: bool) -> list[dict[str, Any]]:
    """Text (and, in user turns, base64 image) blocks; empty text is left out, as Anthropic refuses it."""
    if content is None or isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for index, part in enumerate(content):
        kind, part_where = part.get("type"), f"{where}.content[{index}]"
        if kind == "text" and isinstance(part.get("text"), str):
            if part["text"]:
                blocks.append({"type": "text", "text": part["text"]})
        elif kind == "image_url" and images:
            blocks.append(_image(part.get("image_url"), part_where, route))
        else:
            raise refusal(route, part_where, f"(a {kind!r} part) is not supported by")
    return blocks


def _image(image_url: Any, where: str, route: Route) -> dict[str, Any]:
    """Anthropic's base64 source for a data: URL; its URL source for an https: one (Anthropic fetches it)."""
    url = image_url.get("url") if isinstance(image_url, dict) else None
    if isinstance(url, str) and url[:6].lower() == "https:":
        return {"type": "image", "source": {"type": "url", "url": url}}
    match = _IMAGE_DATA_URL.fullmatch(url) if isinstance(url, str) else None
    if match is None:
        raise refusal(
            route, where, "must be an https: URL or a base64 data URL of a JPEG, PNG, GIF or WebP image for"
        )
    source = {"type": "base64", "media_type": match.group(1), "data": re.sub(r"\s", "", match.group(2))}
    return {"type": "image", "source": source}


def _tool_uses(tool_calls: Any, where: str, route: Route) -> list[dict[str, Any]]:
    if tool_calls is None:
        return []
    if not isinstance(tool_calls, list):
        raise refusal(route, f"{where}.tool_calls", "must be an array for")
    blocks = []
    for index, call in enumerate(tool_calls):
        call_where = f"{where}.tool_calls[{index}]"
        function = call.get("function") if isinstance(call, dict) else None
        if (
            not isinstance(call, dict)
            or not isinstance(call.get("id"), str)
            or not isinstance(function, dict)
            or not isinstance(function.get("name"), str)
        ):
            raise refusal(
                route, call_where, 'must be {"id", "type": "function", "function": {"name", ...}} for'
            )
        try:
            arguments = json.loads(function.get("arguments") or "")
        except (TypeError, ValueError):
            arguments = None
        if not isinstance(arguments, dict):
            raise refusal(route, f"{call_where}.function.arguments", "must be a JSON object (as text) for")
        blocks.append({"type": "tool_use", "id": call["id"], "name": function["name"], "input": arguments})
    return blocks


def _tool_result(message: Mapping[str, Any], content: Any, where: str, route: Route) -> dict[str, Any]:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise refusal(route, f"{where}.tool_call_id", "must name the tool call answered, for")
    text = "".join(block["text"] for block in _blocks(content, where, route, images=False))
    return {"type": "tool_result", "tool_use_id": call_id, "content": text}

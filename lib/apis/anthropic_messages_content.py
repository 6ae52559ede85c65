"""A Messages API conversation in the neutral form (OpenAI chat messages, tools and tool_choice), for
a route whose provider does not speak the Messages API itself.

What has an equivalent is translated: text, images (base64 as a `data:` URL, a URL as it is),
`tool_use` as an assistant's `tool_calls`, `tool_result` as a `tool` message, custom tools as
function tools. What only changes how Anthropic works, not what is asked (`cache_control`,
`citations` on text, the assistant's earlier `thinking` and `redacted_thinking`), is left out. Any
other block (a document, a server tool's use or result) and any other tool (a server tool such as
`web_search_...`) is kept as it came: a provider that cannot take it refuses it with a 400 naming it
and the route, and an OpenAI-compatible one receives it, as chat's passed-through fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lib.core.token_estimate import json_tokens
from lib.platform.errors import InvalidRequest

# Blocks of the assistant's own earlier turns that only Anthropic can read back.
_ANTHROPIC_ONLY_BLOCKS = frozenset({"thinking", "redacted_thinking"})
_MEDIA_BLOCKS = frozenset({"image", "document"})
_IMAGE_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


def neutral_messages(system: Any, messages: list[Any]) -> list[dict[str, Any]]:
    """The system text and the turns as OpenAI chat messages (a user turn's tool results come first,
    each a `tool` message, as OpenAI wants them right after the assistant's tool calls)."""
    neutral: list[dict[str, Any]] = []
    system_text = "\n\n".join(system_texts(system))
    if system_text:
        neutral.append({"role": "system", "content": system_text})
    for index, message in enumerate(messages):
        where, content = f"messages[{index}]", message["content"]
        if isinstance(content, str):
            neutral.append({"role": message["role"], "content": content})
        elif message["role"] == "user":
            neutral.extend(_user_turn(content, where))
        else:
            neutral.append(_assistant_turn(content, where))
    return neutral


def anthropic_only_tokens(messages: list[Any]) -> int:
    """An upper bound of the blocks `neutral_messages` leaves out and Anthropic reads (and bills)."""
    return sum(
        json_tokens(block)
        for message in messages
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") in _ANTHROPIC_ONLY_BLOCKS
    )


def without_media(value: Any) -> Any:
    """`value` with the base64 data of its images and documents left out: the text limits count text
    (as for chat's `data:` images); the budget counts an image by its size and a document by its JSON
    text (lib/core/token_estimate.py)."""
    if isinstance(value, list):
        return [without_media(child) for child in value]
    if not isinstance(value, dict):
        return value
    source = value.get("source")
    if value.get("type") in _MEDIA_BLOCKS and isinstance(source, dict) and source.get("type") == "base64":
        return {**value, "source": {name: child for name, child in source.items() if name != "data"}}
    return {name: without_media(child) for name, child in value.items()}


def system_texts(system: Any) -> list[str]:
    """`system` (a string or text blocks), checked, as its texts."""
    if system is None:
        return []
    if isinstance(system, str):
        return [system] if system else []
    if not isinstance(system, list):
        raise InvalidRequest("system must be a string or an array of text blocks", param="system")
    texts = []
    for index, block in enumerate(system):
        if (
            not isinstance(block, dict)
            or block.get("type") != "text"
            or not isinstance(block.get("text"), str)
        ):
            raise InvalidRequest(
                f'system[{index}] must be a text block: {{"type": "text", "text": "..."}}',
                param=f"system[{index}]",
            )
        texts.append(block["text"])
    return texts


def _user_turn(blocks: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for index, block in enumerate(blocks):
        block_where = f"{where}.content[{index}]"
        if block["type"] == "tool_result":
            results.append(_tool_result(block, block_where))
        else:
            parts.append(_part(block, block_where))
    return results + ([{"role": "user", "content": parts}] if parts else [])


def _assistant_turn(blocks: list[dict[str, Any]], where: str) -> dict[str, Any]:
    texts: list[str] = []
    others: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for index, block in enumerate(blocks):
        kind, block_where = block["type"], f"{where}.content[{index}]"
        if kind == "text":
            texts.append(_text(block, block_where))
        elif kind == "tool_use":
            calls.append(_tool_call(block, block_where))
        elif kind not in _ANTHROPIC_ONLY_BLOCKS:
            others.append(dict(block))
    content: Any = "".join(texts) if texts else None
    if others:
        content = [{"type": "text", "text": text} for text in texts] + others
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    return message


def _part(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A user block as an OpenAI content part; a block with no equivalent as it came."""
    if block["type"] == "text":
        return {"type": "text", "text": _text(block, where)}
    if block["type"] == "image":
        return {"type": "image_url", "image_url": {"url": _image_url(block.get("source"), where)}}
    return dict(block)


def _text(block: Mapping[str, Any], where: str) -> str:
    text = block.get("text")
    if not isinstance(text, str):
        raise InvalidRequest(f"{where}.text must be a string", param=f"{where}.text")
    return text


def _image_url(source: Any, where: str) -> str:
    kind = source.get("type") if isinstance(source, dict) else None
    if kind == "base64":
        assert isinstance(source, dict)
        media_type, data = source.get("media_type"), source.get("data")
        if media_type not in _IMAGE_MEDIA_TYPES or not isinstance(data, str) or not data:
            raise InvalidRequest(
                f"{where}.source must hold media_type (image/jpeg, image/png, image/gif or image/webp) "
                "and base64 data",
                param=f"{where}.source",
            )
        return f"data:{media_type};base64,{data}"
    if kind == "url":
        assert isinstance(source, dict)
        url = source.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise InvalidRequest(f"{where}.source.url must be an http(s) URL", param=f"{where}.source.url")
        return url
    raise InvalidRequest(
        f'{where}.source must be {{"type": "base64", ...}} or {{"type": "url", ...}}', param=f"{where}.source"
    )


def _tool_call(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    call_id, name, arguments = block.get("id"), block.get("name"), block.get("input")
    if not isinstance(call_id, str) or not isinstance(name, str) or not isinstance(arguments, dict):
        raise InvalidRequest(
            f'{where} must be {{"type": "tool_use", "id", "name", "input": {{...}}}}', param=where
        )
    encoded = json.dumps(arguments, ensure_ascii=False)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": encoded}}


def _tool_result(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    call_id, content = block.get("tool_use_id"), block.get("content")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest(
            f"{where}.tool_use_id must name the tool_use answered", param=f"{where}.tool_use_id"
        )
    if content is None or isinstance(content, str):
        return {"role": "tool", "tool_call_id": call_id, "content": content or ""}
    if not isinstance(content, list) or not all(isinstance(item, dict) for item in content):
        raise InvalidRequest(
            f"{where}.content must be a string or an array of blocks", param=f"{where}.content"
        )
    parts = [_part(item, f"{where}.content[{index}]") for index, item in enumerate(content)]
    if all(part["type"] == "text" for part in parts):
        return {"role": "tool", "tool_call_id": call_id, "content": "".join(part["text"] for part in parts)}
    return {"role": "tool", "tool_call_id": call_id, "content": parts}


def neutral_tools(tools: Any) -> list[dict[str, Any]]:
    """Custom tools as OpenAI function tools; a server tool as it came."""
    if not isinstance(tools, list):
        raise InvalidRequest("tools must be an array of tools", param="tools")
    converted = []
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise InvalidRequest(f"{where} must be an object", param=where)
        if tool.get("type", "custom") != "custom":
            converted.append(dict(tool))
            continue
        name, schema, description = tool.get("name"), tool.get("input_schema"), tool.get("description")
        if not isinstance(name, str) or not name:
            raise InvalidRequest(f"{where}.name must be a non-empty string", param=f"{where}.name")
        if not isinstance(schema, dict):
            raise InvalidRequest(
                f"{where}.input_schema must be a JSON Schema object", param=f"{where}.input_schema"
            )
        function: dict[str, Any] = {"name": name, "parameters": schema}
        if isinstance(description, str) and description:
            function["description"] = description
        if isinstance(tool.get("strict"), bool):
            function["strict"] = tool["strict"]
        converted.append({"type": "function", "function": function})
    return converted


def neutral_tool_choice(choice: Any) -> dict[str, Any]:
    """`tool_choice` as OpenAI's `tool_choice` (and `parallel_tool_calls: false` for
    `disable_parallel_tool_use`)."""
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind not in ("auto", "any", "tool", "none"):
        raise InvalidRequest(
            'tool_choice must be {"type": "auto"}, {"type": "any"}, {"type": "tool", "name": ...} '
            'or {"type": "none"}',
            param="tool_choice",
        )
    assert isinstance(choice, dict)
    if kind == "tool":
        if not isinstance(choice.get("name"), str) or not choice["name"]:
            raise InvalidRequest("tool_choice.name must name one of the tools", param="tool_choice.name")
        mapped: Any = {"type": "function", "function": {"name": choice["name"]}}
    else:
        mapped = {"auto": "auto", "any": "required", "none": "none"}[kind]
    fields: dict[str, Any] = {"tool_choice": mapped}
    if choice.get("disable_parallel_tool_use") is True and kind != "none":
        fields["parallel_tool_calls"] = False
    return fields

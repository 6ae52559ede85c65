"""The Responses API's tools, tool_choice and text.format in chat's shape (the neutral request's).

Function tools translate; a hosted tool (web_search, file_search, code_interpreter, mcp, ...) or a
custom tool runs only at a provider that speaks the Responses API itself, so it is `Untranslatable`.
"""

from __future__ import annotations

from typing import Any

from lib.apis.openai_responses_items import Untranslatable
from lib.platform.errors import InvalidRequest

_CHOICES = frozenset({"auto", "none", "required"})


def chat_tools(tools: Any) -> tuple[list[dict[str, Any]] | None, list[Untranslatable]]:
    if tools is None:
        return None, []
    if not isinstance(tools, list) or not all(isinstance(tool, dict) for tool in tools):
        raise InvalidRequest("tools must be an array of tool objects", param="tools")
    translated: list[dict[str, Any]] = []
    missing: list[Untranslatable] = []
    for index, tool in enumerate(tools):
        where, kind = f"tools[{index}]", tool.get("type")
        if kind != "function":
            if not isinstance(kind, str) or not kind:
                raise InvalidRequest(f"{where}.type must be a string", param=f"{where}.type")
            missing.append(Untranslatable(where, f"the {kind} tool, which OpenAI runs itself"))
            translated.append(tool)  # a provider without it refuses it by name
            continue
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequest(f"{where}.name must be a non-empty string", param=f"{where}.name")
        function: dict[str, Any] = {"name": name}
        for field, kinds in (("description", str), ("parameters", dict), ("strict", bool)):
            value = tool.get(field)
            if value is None:
                continue
            if not isinstance(value, kinds):
                raise InvalidRequest(f"{where}.{field} has the wrong type", param=f"{where}.{field}")
            function[field] = value
        translated.append({"type": "function", "function": function})
    return translated, missing


def chat_tool_choice(choice: Any) -> tuple[Any, list[Untranslatable]]:
    if choice is None:
        return None, []
    if isinstance(choice, str):
        if choice not in _CHOICES:
            raise InvalidRequest(
                'tool_choice must be "auto", "none", "required" or an object', param="tool_choice"
            )
        return choice, []
    if not isinstance(choice, dict):
        raise InvalidRequest(
            'tool_choice must be "auto", "none", "required" or an object', param="tool_choice"
        )
    if choice.get("type") == "function":
        if not isinstance(choice.get("name"), str) or not choice["name"]:
            raise InvalidRequest("tool_choice.name must name a function tool", param="tool_choice.name")
        return {"type": "function", "function": {"name": choice["name"]}}, []
    return choice, [Untranslatable("tool_choice", f"a {choice.get('type')!r} tool choice")]


def response_format(text: Any) -> dict[str, Any] | None:
    """`text.format` as chat's `response_format` (None for plain text); `text.verbosity` is a hint."""
    if text is None:
        return None
    if not isinstance(text, dict):
        raise InvalidRequest("text must be an object", param="text")
    format_ = text.get("format")
    if format_ is None or format_ == {"type": "text"}:
        return None
    kind = format_.get("type") if isinstance(format_, dict) else None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind != "json_schema":
        raise InvalidRequest(
            'text.format.type must be "text", "json_object" or "json_schema"', param="text.format.type"
        )
    name, schema = format_.get("name"), format_.get("schema")
    if not isinstance(name, str) or not name:
        raise InvalidRequest("text.format.name must name the schema", param="text.format.name")
    if not isinstance(schema, dict):
        raise InvalidRequest("text.format.schema must be a JSON Schema object", param="text.format.schema")
    json_schema: dict[str, Any] = {"name": name, "schema": schema}
    for field, kinds in (("description", str), ("strict", bool)):
        if format_.get(field) is not None:
            if not isinstance(format_[field], kinds):
                raise InvalidRequest(f"text.format.{field} has the wrong type", param=f"text.format.{field}")
            json_schema[field] = format_[field]
    return {"type": "json_schema", "json_schema": json_schema}

"""Bedrock's Converse API, the tools' part of the request: OpenAI's tools and tool choice as Converse's
`toolConfig`, an assistant's tool calls as `toolUse` blocks, and `parallel_tool_calls: false` where a
model can be told it (lib/providers/converse.py builds the rest).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from lib.platform.errors import InvalidRequest
from lib.platform.route_table import Route
from lib.providers import json_mode_tool

Refuse = Callable[[str, str], InvalidRequest]  # (field, reason) -> the 400 naming both and the route
_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
TOOL_USE_ID = re.compile(r"[a-zA-Z0-9_.:-]{1,64}")
# A Claude model's id, alone or in an inference profile's id or ARN (us.anthropic.claude-...).
_CLAUDE_MODEL = re.compile(r"(?:^|[.:/])anthropic\.claude")


def tool_uses(tool_calls: Any, where: str, refuse: Refuse) -> list[dict[str, Any]]:
    if tool_calls is None:
        return []
    if not isinstance(tool_calls, list):
        raise refuse(f"{where}.tool_calls", "must be an array")
    blocks = []
    for number, call in enumerate(tool_calls):
        field = f"{where}.tool_calls[{number}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or call.get("type", "function") != "function":
            raise refuse(field, "must be a function call")
        if not isinstance(call.get("id"), str) or not TOOL_USE_ID.fullmatch(call["id"]):
            raise refuse(f"{field}.id", "must be 1-64 letters, digits or _ . : -")
        name = _tool_name(function.get("name"), f"{field}.function.name", refuse)
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except (TypeError, ValueError, RecursionError):
            arguments = None
        if not isinstance(arguments, dict):
            raise refuse(f"{field}.function.arguments", "must be a JSON object in a string")
        blocks.append({"toolUse": {"toolUseId": call["id"], "name": name, "input": arguments}})
    return blocks


def tool_config(
    tools: Any, tool_choice: Any, turns: list[dict[str, Any]], refuse: Refuse
) -> dict[str, Any] | None:
    uses_tools = any(
        "toolUse" in block or "toolResult" in block for turn in turns for block in turn["content"]
    )
    if tools is None:
        if uses_tools:
            raise refuse("tools", "the messages hold tool calls, so Converse needs the tools they used")
        if tool_choice is not None:
            raise refuse("tool_choice", "there are no tools to choose from")
        return None
    if not isinstance(tools, list) or not tools:
        raise refuse("tools", "must be a non-empty array of function tools")
    specs = [_tool_spec(tool, f"tools[{number}]", refuse) for number, tool in enumerate(tools)]
    config: dict[str, Any] = {"tools": specs}
    if tool_choice is None or tool_choice == "auto":
        return config
    if tool_choice == "none":
        if uses_tools:
            raise refuse("tool_choice", "Converse cannot forbid tool calls in a conversation that holds some")
        return None  # no tools offered: the model cannot call one
    if tool_choice == "required":
        config["toolChoice"] = {"any": {}}
        return config
    function = tool_choice.get("function") if isinstance(tool_choice, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    if name not in {spec["toolSpec"]["name"] for spec in specs}:
        raise refuse("tool_choice", 'must be "auto", "none", "required" or name one of the tools')
    config["toolChoice"] = {"tool": {"name": name}}
    return config


def one_tool_call(route: Route, tool_config: dict[str, Any], refuse: Refuse) -> dict[str, Any] | None:
    """`parallel_tool_calls: false` (Codex sends it): Converse has no such field, but Claude models take
    Anthropic's own flag as an additional model field, with the `auto` choice it belongs to."""
    field = "parallel_tool_calls"
    if tool_config.get("toolChoice") == {"tool": {"name": json_mode_tool.TOOL_NAME}}:
        return None  # JSON mode's forced tool: only its first call is read (json_mode_tool.as_text)
    if not _CLAUDE_MODEL.search(route.model or ""):
        raise refuse(field, "Converse cannot forbid parallel tool calls (only Claude models can be told to)")
    if "toolChoice" in tool_config:
        json_mode = any(spec["toolSpec"]["name"] == json_mode_tool.TOOL_NAME for spec in tool_config["tools"])
        raise refuse(
            field,
            "Converse cannot forbid parallel tool calls with JSON mode and tools"
            if json_mode
            else 'Converse can forbid parallel tool calls only with tool_choice "auto"',
        )
    return {"tool_choice": {"type": "auto", "disable_parallel_tool_use": True}}


def _tool_spec(tool: Any, field: str, refuse: Refuse) -> dict[str, Any]:
    function = tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(function, dict) or tool.get("type") != "function":
        raise refuse(field, "only function tools are supported")
    spec: dict[str, Any] = {"name": _tool_name(function.get("name"), f"{field}.function.name", refuse)}
    description = function.get("description")
    if isinstance(description, str) and description.strip():
        spec["description"] = description
    parameters = function.get("parameters", {"type": "object", "properties": {}})
    if not isinstance(parameters, dict):
        raise refuse(f"{field}.function.parameters", "must be a JSON Schema object")
    spec["inputSchema"] = {"json": parameters}
    if isinstance(function.get("strict"), bool):
        spec["strict"] = function["strict"]
    return {"toolSpec": spec}


def _tool_name(name: Any, field: str, refuse: Refuse) -> str:
    if not isinstance(name, str) or not _TOOL_NAME.fullmatch(name):
        raise refuse(field, "must be 1-64 letters, digits, _ or -")
    return name

"""What OpenAI's chat completions refuse and the built-in model would otherwise answer: a client bug
caught on `make run` is one not found in production. Each is a 400 naming the field, as OpenAI's."""

from __future__ import annotations

import re
from typing import Any

from local.answers import BadRequest

_FORMATS = ("text", "json_object", "json_schema")
_FUNCTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")


def check_chat(body: dict[str, Any]) -> None:
    _check_response_format(body.get("response_format"))
    _check_tools(body.get("tools"))
    if body.get("tool_choice") is not None and not body.get("tools"):
        raise BadRequest("tool_choice is only allowed when tools are specified", "tool_choice")
    if body.get("stream_options") is not None and body.get("stream") is not True:
        raise BadRequest("stream_options is only allowed when stream is true", "stream_options")
    if body.get("top_logprobs") is not None and body.get("logprobs") is not True:
        raise BadRequest("top_logprobs needs logprobs set to true", "top_logprobs")


def _check_response_format(value: Any) -> None:
    if value is None:
        return
    kind = value.get("type") if isinstance(value, dict) else None
    if kind not in _FORMATS:
        raise BadRequest(f"response_format.type must be one of {', '.join(_FORMATS)}", "response_format.type")
    if kind == "json_schema":
        spec = value.get("json_schema")
        if not isinstance(spec, dict) or not _FUNCTION_NAME.fullmatch(str(spec.get("name", ""))):
            raise BadRequest(
                "response_format.json_schema needs a name (letters, digits, _ and -)",
                "response_format.json_schema",
            )
        if "schema" in spec and not isinstance(spec["schema"], dict):
            raise BadRequest(
                "response_format.json_schema.schema must be an object", "response_format.json_schema.schema"
            )


def _check_tools(tools: Any) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise BadRequest("tools must be an array", "tools")
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind == "custom":
            continue  # OpenAI's free-form custom tools: the built-in model never calls them
        function = tool.get("function") if isinstance(tool, dict) else None
        if kind != "function" or not isinstance(function, dict):
            raise BadRequest(f'{where} must be {{"type": "function", "function": {{...}}}}', where)
        if not _FUNCTION_NAME.fullmatch(str(function.get("name", ""))):
            raise BadRequest(
                f"{where}.function.name must be 1 to 64 letters, digits, _ or -", f"{where}.function.name"
            )
        if "parameters" in function and not isinstance(function["parameters"], dict):
            raise BadRequest(f"{where}.function.parameters must be an object", f"{where}.function.parameters")

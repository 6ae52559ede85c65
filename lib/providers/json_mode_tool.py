"""OpenAI's JSON mode (`response_format: {"type": "json_object"}`) for providers whose structured output
needs a schema (Anthropic, Bedrock Converse): the model is given one more tool, whose input is any JSON
object, and must call a tool; a call of that tool comes back as the answer's text, as OpenAI's JSON mode
answers, and the model's other tool calls stay tool calls (JSON mode with tools is "call a tool or
answer in JSON" there too).

A tool's input is always a JSON object (the Messages API and Converse both say so), which is what JSON
mode promises. The request is rewritten before the provider's own translation, and the answer after
it, so each provider only adds two calls.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from lib.core.pieces import StreamPiece
from lib.core.request import ModelRequest
from lib.platform.errors import InvalidRequest

TOOL_NAME = "json_answer"
_JSON_MODE = {"type": "json_object"}
_TOOL = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": "Answer with one JSON object.",
        "parameters": {"type": "object"},
    },
}


def wanted(request: ModelRequest) -> bool:
    return request.kind == "chat" and request.extra.get("response_format") == _JSON_MODE


def as_tool_request(request: ModelRequest) -> ModelRequest:
    """The request with JSON mode as a tool the model must call, or call one of the caller's tools
    (unless it must call one of theirs anyway: then JSON mode changes nothing and only the field goes)."""
    if not wanted(request):
        return request
    extra = {name: value for name, value in request.extra.items() if name != "response_format"}
    listed = extra.get("tools")
    tools: list[Any] = listed if isinstance(listed, list) else []
    choice = extra.get("tool_choice")
    if any(_name(tool) == TOOL_NAME for tool in tools):
        raise InvalidRequest(
            f"tools: a tool named {TOOL_NAME!r} cannot be sent with JSON mode (the gateway's own)",
            param="tools",
        )
    if tools and choice not in (None, "auto", "none"):
        return request._replace(extra=extra)
    extra["tools"] = [*tools, _TOOL]  # the caller's stay listed: the conversation may hold their calls
    forced = {"type": "function", "function": {"name": TOOL_NAME}}
    extra["tool_choice"] = "required" if tools and choice != "none" else forced
    if extra["tool_choice"] == forced:
        extra.pop("parallel_tool_calls", None)  # one forced tool, one answer: nothing to forbid
    return request._replace(extra=extra)


def as_text(body: dict[str, Any], request: ModelRequest) -> dict[str, Any]:
    """A whole OpenAI-shaped answer with the JSON tool's call as its text."""
    if not wanted(request):
        return body
    for choice in body.get("choices", ()):
        message = choice.get("message") or {}
        calls = message.get("tool_calls") or []
        answers = [call for call in calls if call["function"]["name"] == TOOL_NAME]
        if not answers:
            continue
        others = [call for call in calls if call["function"]["name"] != TOOL_NAME]
        message["content"] = (message.get("content") or "") + "".join(
            call["function"]["arguments"] for call in answers
        )
        if others:
            message["tool_calls"] = others
        else:
            message.pop("tool_calls", None)
            if choice.get("finish_reason") == "tool_calls":
                choice["finish_reason"] = "stop"
    return body


def as_text_pieces(pieces: Iterator[StreamPiece], request: ModelRequest) -> Iterator[StreamPiece]:
    """A stream with the JSON tool's argument deltas as text, the other calls renumbered from 0."""
    return _json_as_text(pieces) if wanted(request) else pieces


def _json_as_text(pieces: Iterator[StreamPiece]) -> Iterator[StreamPiece]:
    renumbered: dict[int, int | None] = {}  # the provider's call index -> ours (None: the JSON tool)
    try:
        for piece in pieces:
            if piece.tool_calls:
                piece.text += "".join(_json_deltas(piece.tool_calls, renumbered))
                piece.tool_calls = _other_calls(piece.tool_calls, renumbered) or None
            if piece.finish_reason == "tool_calls" and all(index is None for index in renumbered.values()):
                piece.finish_reason = "stop"
            yield piece
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()  # the provider's stream, however the reader stops


def _json_deltas(calls: list[dict[str, Any]], renumbered: dict[int, int | None]) -> Iterator[str]:
    for call in calls:
        index = call["index"]
        if index not in renumbered:
            is_json = (call.get("function") or {}).get("name") == TOOL_NAME
            taken = sum(1 for value in renumbered.values() if value is not None)
            renumbered[index] = None if is_json else taken
        if renumbered[index] is None:
            yield (call.get("function") or {}).get("arguments") or ""


def _other_calls(calls: list[dict[str, Any]], renumbered: dict[int, int | None]) -> list[dict[str, Any]]:
    return [
        {**call, "index": renumbered[call["index"]]}
        for call in calls
        if renumbered[call["index"]] is not None
    ]


def _name(tool: Any) -> Any:
    function = tool.get("function") if isinstance(tool, Mapping) else None
    return function.get("name") if isinstance(function, Mapping) else None

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
from lib.core.token_estimate import JSON_MODE
from lib.platform.errors import InvalidRequest

TOOL_NAME = "json_answer"
_TOOL = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": "Answer with one JSON object.",
        "parameters": {"type": "object"},
    },
}


def wanted(request: ModelRequest) -> bool:
    return request.kind == "chat" and request.extra.get("response_format") == JSON_MODE


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
        # One JSON answer: Anthropic is told so (it may otherwise call the tool twice); where a provider
        # cannot be told, only the first call is read (as_text).
        extra["parallel_tool_calls"] = False
    return request._replace(extra=extra)


def as_text(body: dict[str, Any], request: ModelRequest) -> dict[str, Any]:
    """A whole OpenAI-shaped answer with the JSON tool's first call as its text: only that is the JSON
    answer (text the model wrote beside it, or a second call, would make it something else)."""
    if not wanted(request):
        return body
    for choice in body.get("choices", ()):
        message = choice.get("message") or {}
        calls = message.get("tool_calls") or []
        answers = [call for call in calls if call["function"]["name"] == TOOL_NAME]
        if not answers:
            continue  # no JSON call (a model that ignored the forced choice): its answer as it is
        others = [call for call in calls if call["function"]["name"] != TOOL_NAME]
        message["content"] = answers[0]["function"]["arguments"] or "{}"
        if others:
            message["tool_calls"] = others
        else:
            message.pop("tool_calls", None)
            if choice.get("finish_reason") == "tool_calls":
                choice["finish_reason"] = "stop"
    return body


def as_text_pieces(pieces: Iterator[StreamPiece], request: ModelRequest) -> Iterator[StreamPiece]:
    """A stream with the JSON tool's first call's argument deltas as its text, the other calls
    renumbered from 0. The model's own text is held back: it is the answer only if no JSON call came."""
    return _json_as_text(pieces) if wanted(request) else pieces


_ANSWER, _DROPPED = "answer", "dropped"  # the first JSON call, and any later one


def _json_as_text(pieces: Iterator[StreamPiece]) -> Iterator[StreamPiece]:
    calls: dict[int, int | str] = {}  # the provider's call index -> ours, or _ANSWER / _DROPPED
    held: list[str] = []  # the model's text, until it is known whether a JSON call came
    written = False  # whether the JSON call's arguments had any text
    try:
        for piece in pieces:
            held.append(piece.text)
            piece.text = ""
            if piece.tool_calls:
                answer = "".join(_json_deltas(piece.tool_calls, calls))
                written = written or bool(answer)
                piece.text = answer
                piece.tool_calls = _other_calls(piece.tool_calls, calls) or None
            if piece.finish_reason is not None:
                if _ANSWER not in calls.values():
                    piece.text = "".join(held) + piece.text
                elif not written:
                    piece.text += "{}"  # an empty tool input is streamed as no text at all
                if piece.finish_reason == "tool_calls" and not any(
                    isinstance(v, int) for v in calls.values()
                ):
                    piece.finish_reason = "stop"
            yield piece
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()  # the provider's stream, however the reader stops


def _json_deltas(deltas: list[dict[str, Any]], calls: dict[int, int | str]) -> Iterator[str]:
    for delta in deltas:
        index = delta["index"]
        if index not in calls:
            if (delta.get("function") or {}).get("name") == TOOL_NAME:
                calls[index] = _DROPPED if _ANSWER in calls.values() else _ANSWER
            else:
                calls[index] = sum(1 for value in calls.values() if isinstance(value, int))
        if calls[index] == _ANSWER:
            yield (delta.get("function") or {}).get("arguments") or ""


def _other_calls(deltas: list[dict[str, Any]], calls: dict[int, int | str]) -> list[dict[str, Any]]:
    return [
        {**delta, "index": calls[delta["index"]]}
        for delta in deltas
        if isinstance(calls[delta["index"]], int)
    ]


def _name(tool: Any) -> Any:
    function = tool.get("function") if isinstance(tool, Mapping) else None
    return function.get("name") if isinstance(function, Mapping) else None

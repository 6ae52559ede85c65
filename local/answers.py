"""What the built-in model answers, decided from the request alone (the same request, the same answer).

- With `tools` (or the legacy `functions`) that `tool_choice` allows, it calls one: the one named, else
  the one whose name and description share most words with the prompt, else the first, with arguments
  valid for its JSON schema (local/schema_instance.py). Under `auto` it answers in text once the last
  message is a tool's result, as a model does when it has what it asked for.
- With `response_format` `json_schema`, a JSON value valid for the schema; with `json_object`, an object.
- Otherwise it echoes the last user message, describing each image in it (local/images.py), up to the
  first `stop` sequence.

Everything it reads counts toward `prompt_tokens` (text, images as their description, tool definitions,
the schema, earlier tool calls), everything it writes toward `completion_tokens`, and the answer is cut
at `max_tokens` (`finish_reason: "length"`), JSON or not, as a model's is.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from local.images import describe_image
from local.schema_instance import instance
from local.tokens import count, cut, json_text, message_text

DEFAULT_MAX_TOKENS = 256
_WORD = re.compile(r"[a-z0-9]+")


class BadRequest(Exception):
    """A request the OpenAI API would refuse: a 400 naming the field."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass
class Answer:
    content: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # OpenAI's message.tool_calls
    function_call: dict[str, str] | None = None  # the legacy `functions` API's call
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    top_logprobs: int | None = None  # None: logprobs were not asked for

    @property
    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


def chat_answer(body: dict[str, Any]) -> Answer:
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    max_tokens = _max_tokens(body)
    answer = Answer(prompt_tokens=_prompt_tokens(body, messages), top_logprobs=_chat_logprobs(body))
    prompt = _last_text(messages, "user")
    called = _tool_to_call(body, messages)
    if called is not None:
        name, parameters, legacy = called
        arguments = json.dumps(instance(parameters, prompt) if isinstance(parameters, dict) else {})
        arguments, written, was_cut = cut(arguments, max(max_tokens - count(name), 0))
        answer.completion_tokens = count(name) + written
        answer.finish_reason = "length" if was_cut else ("function_call" if legacy else "tool_calls")
        if legacy:
            answer.function_call = {"name": name, "arguments": arguments}
        else:
            call_id = "call_" + hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()[:24]
            answer.tool_calls = [
                {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
            ]
        return answer
    content, answer.completion_tokens, was_cut = cut(
        _before_stop(_content(body, messages, prompt), body), max_tokens
    )
    answer.content = content
    answer.finish_reason = "length" if was_cut else "stop"
    return answer


def completion_answer(body: dict[str, Any]) -> Answer:
    """The legacy completions API: the prompt echoed; `logprobs` is the number of top tokens."""
    prompt = body.get("prompt")
    prompt = " ".join(p for p in prompt if isinstance(p, str)) if isinstance(prompt, list) else prompt
    prompt = prompt if isinstance(prompt, str) else ""
    content, written, was_cut = cut(_before_stop(_echo(prompt), body), _max_tokens(body))
    logprobs = body.get("logprobs")
    return Answer(
        content=content,
        finish_reason="length" if was_cut else "stop",
        prompt_tokens=count(prompt),
        completion_tokens=written,
        top_logprobs=logprobs if isinstance(logprobs, int) and not isinstance(logprobs, bool) else None,
    )


def _max_tokens(body: dict[str, Any]) -> int:
    value = body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadRequest("max_tokens must be a whole number of 1 or more", "max_tokens")
    return value


def _chat_logprobs(body: dict[str, Any]) -> int | None:
    if body.get("logprobs") is not True:
        return None
    top = body.get("top_logprobs") or 0
    if not isinstance(top, int) or isinstance(top, bool) or not 0 <= top <= 20:
        raise BadRequest("top_logprobs must be a whole number from 0 to 20", "top_logprobs")
    return top


def _echo(text: str) -> str:
    return f"Local model reply: {text}" if text.strip() else "Local model reply."


def _content(body: dict[str, Any], messages: list[dict[str, Any]], prompt: str) -> str:
    last = messages[-1] if messages else {}
    if last.get("role") in ("tool", "function"):
        text = f"Local model reply to the tool's result: {message_text(last.get('content'))}"
    else:
        described = [f"[image {n}: {d}]" for n, d in enumerate(_images(_last_content(messages)), start=1)]
        text = _echo(" ".join([prompt, *described]).strip())
    response_format = body.get("response_format")
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_schema":
        spec = response_format.get("json_schema") if isinstance(response_format, dict) else None
        schema = spec.get("schema") if isinstance(spec, dict) else None
        return json.dumps(instance(schema if isinstance(schema, dict) else {"type": "object"}, prompt))
    if kind == "json_object":
        return json.dumps({"reply": text})
    return text


def _before_stop(text: str, body: dict[str, Any]) -> str:
    """The text up to the first of the `stop` sequences, which a model does not write."""
    stop = body.get("stop")
    sequences = [stop] if isinstance(stop, str) else [s for s in stop or [] if isinstance(s, str)]
    found = [text.find(sequence) for sequence in sequences if sequence and sequence in text]
    return text[: min(found)] if found else text


def _tool_to_call(body: dict[str, Any], messages: list[dict[str, Any]]) -> tuple[str, Any, bool] | None:
    """(name, parameters, legacy) of the tool to call, or None to answer in text."""
    legacy = "tools" not in body and "functions" in body
    if legacy:
        tools = [f for f in body.get("functions") or [] if isinstance(f, dict)]
        choice: Any = body.get("function_call", "auto")
        param = "function_call"
    else:
        tools = [t["function"] for t in body.get("tools") or [] if _is_function_tool(t)]
        choice = body.get("tool_choice", "auto")
        param = "tool_choice"
    named = [t for t in tools if isinstance(t.get("name"), str)]
    if not named or choice == "none":
        return None
    if isinstance(choice, dict):
        function = choice if legacy else choice.get("function")
        wanted = function.get("name") if isinstance(function, dict) else None
        if wanted is not None:
            match = [t for t in named if t["name"] == wanted]
            if not match:
                raise BadRequest(f"{param} names {wanted!r}, which is not among the tools", param)
            return match[0]["name"], match[0].get("parameters"), legacy
    last_role = messages[-1].get("role") if messages else None
    if choice != "required" and last_role in ("tool", "function"):
        return None  # it has the tool's result: time to answer
    words = set(_WORD.findall(_last_text(messages, "user").lower()))
    best = max(
        named,
        key=lambda t: len(words & set(_WORD.findall(f"{t['name']} {t.get('description', '')}".lower()))),
    )
    return best["name"], best.get("parameters"), legacy


def _is_function_tool(tool: Any) -> bool:
    return (
        isinstance(tool, dict) and tool.get("type") == "function" and isinstance(tool.get("function"), dict)
    )


def _last_text(messages: list[dict[str, Any]], role: str) -> str:
    return next((message_text(m.get("content")) for m in reversed(messages) if m.get("role") == role), "")


def _last_content(messages: list[dict[str, Any]]) -> Any:
    return next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), None)


def _images(content: Any) -> list[str]:
    """The description of each image part of a message's content."""
    described = []
    for part in content if isinstance(content, list) else []:
        if isinstance(part, dict) and part.get("type") == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            described.append(describe_image(url if isinstance(url, str) else ""))
    return described


def _prompt_tokens(body: dict[str, Any], messages: list[dict[str, Any]]) -> int:
    """Every token the model reads: the messages (text, images as described, earlier calls and their
    names), the tool definitions and the response format's schema."""
    read = 0
    for message in messages:
        read += count(message_text(message.get("content")))
        read += sum(count(description) for description in _images(message.get("content")))
        read += count(json_text(message.get("tool_calls"))) + count(json_text(message.get("function_call")))
    for field_name in ("tools", "functions", "response_format"):
        read += count(json_text(body.get(field_name)))
    return read

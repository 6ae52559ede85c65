"""What the capable loopback model (compat/capable_model.py) answers, decided from the request alone: a
chat answer (text, a tool call whose arguments fit the tool's schema, structured output), usage counted
in words, and embeddings; shared by its OpenAI and Anthropic wire formats (compat/capable_messages.py).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from typing import Any

_WORD = re.compile(r"\S+")
_JOKE = {"setup": "Why did the cat sit on the computer?", "punchline": "To keep an eye on the mouse."}


def tokens(text: str) -> int:
    return len(_WORD.findall(text))


def example(schema: Any, quotes: list[str] | None = None, definitions: dict[str, Any] | None = None) -> Any:
    """A value that fits a JSON schema (what a model fills a tool's arguments or a schema with); its
    strings are the ones the user quoted, in order, then "hello"."""
    quotes = [] if quotes is None else quotes
    if not isinstance(schema, dict):
        return "example"
    definitions = {**(definitions or {}), **schema.get("$defs", {}), **schema.get("definitions", {})}
    if "$ref" in schema:
        return example(definitions.get(schema["$ref"].rsplit("/", 1)[-1], {}), quotes, definitions)
    for choice in ("anyOf", "oneOf", "allOf"):
        options = [option for option in schema.get(choice, []) if option.get("type") != "null"]
        if options:
            return example(options[0], quotes, definitions)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    kind = next((item for item in kind if item != "null"), "string") if isinstance(kind, list) else kind
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        return {name: example(child, quotes, definitions) for name, child in properties.items()}
    if kind == "array":
        return [example(schema.get("items", {}), quotes, definitions)]
    if kind in (None, "string"):
        return quotes.pop(0) if quotes else "hello"
    return {"integer": 3, "number": 3, "boolean": True, "null": None}.get(kind, "hello")


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def chat_answer(body: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]], str]:
    """(text, tool calls, finish reason) for a chat request."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    last = messages[-1] if messages else {}
    tools = [tool for tool in body.get("tools") or [] if isinstance(tool, dict) and tool.get("function")]
    choice = body.get("tool_choice")
    if tools and choice != "none" and last.get("role") != "tool":
        named = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
        tool = next((t for t in tools if t["function"].get("name") == named), tools[0])
        quotes = re.findall(r"'([^']+)'", text_of(last.get("content")))
        arguments = json.dumps(example(tool["function"].get("parameters") or {}, quotes), ensure_ascii=False)
        call = {"id": f"call_{uuid.uuid4().hex[:12]}", "type": "function"}
        call["function"] = {"name": tool["function"]["name"], "arguments": arguments}
        return None, [call], "tool_calls"
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return json.dumps(example(response_format.get("json_schema", {}).get("schema", {}))), [], "stop"
    if response_format.get("type") == "json_object":
        return json.dumps(_JOKE), [], "stop"
    if last.get("role") == "tool":
        return f"The tool answered: {text_of(last.get('content'))}", [], "stop"
    return cut(f"Hello! You said: {text_of(last.get('content'))}", body)


def cut(text: str, body: dict[str, Any]) -> tuple[str, list[dict[str, Any]], str]:
    stop = body.get("stop")
    for sequence in [stop] if isinstance(stop, str) else stop or []:
        if sequence and sequence in text:
            return text[: text.index(sequence)], [], "stop"
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    words = _WORD.findall(text)
    if isinstance(limit, int) and len(words) > limit:
        return " ".join(words[:limit]), [], "length"
    return text, [], "stop"


def usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": prompt // 2, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": completion // 2, "audio_tokens": 0},
    }


def vector(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector derived from the text."""
    digest = hashlib.sha256(text.encode()).digest()
    raw = [(digest[i % len(digest)] - 127.5) / 127.5 for i in range(dimensions)]
    norm = math.sqrt(sum(value * value for value in raw)) or 1.0
    return [value / norm for value in raw]

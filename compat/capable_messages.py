"""The capable model's Anthropic Messages API (`POST /v1/messages`), so that ChatAnthropic's standard
tests have a "directly" column: the request is read into the chat body `capable_model.chat_answer`
answers (text, tool results, tools, tool choice, output_config.format, stop sequences, max_tokens),
and the answer is written back in Anthropic's wire format, whole or as its stream of events, with
usage counted as the chat side counts it (half the input read from the cache)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from compat.capable_answers import chat_answer, text_of, tokens

_STOP_REASONS = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens"}


def chat_body(body: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI chat request that means what this Messages request means, as far as the model reads it."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": text_of(body.get("system"))}]
    for message in body.get("messages") or []:
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        for result in (block for block in blocks if block.get("type") == "tool_result"):
            messages.append({"role": "tool", "content": text_of(result.get("content"))})
        texts = [block for block in blocks if block.get("type") == "text"]
        if texts or not any(block.get("type") == "tool_result" for block in blocks):
            messages.append({"role": message.get("role"), "content": texts})
    tools = [
        {"type": "function", "function": {"name": tool["name"], "parameters": tool.get("input_schema") or {}}}
        for tool in body.get("tools") or []
        if tool.get("name")
    ]
    choice = body.get("tool_choice") or {}
    chat: dict[str, Any] = {"messages": messages, "tools": tools, "max_tokens": body.get("max_tokens")}
    chat["stop"] = body.get("stop_sequences")
    if choice.get("type") == "none":
        chat["tool_choice"] = "none"
    elif choice.get("type") == "tool":
        chat["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    output_format = (body.get("output_config") or {}).get("format") or {}
    if output_format.get("type") == "json_schema":
        chat["response_format"] = {
            "type": "json_schema",
            "json_schema": {"schema": output_format.get("schema")},
        }
    return chat


def message(body: dict[str, Any]) -> dict[str, Any]:
    """The whole answer: a `message` with text or tool_use blocks, its stop reason and usage."""
    chat = chat_body(body)
    text, calls, reason = chat_answer(chat)
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text is not None else []
    for call in calls:
        arguments = json.loads(call["function"]["arguments"])
        content.append(
            {
                "type": "tool_use",
                "id": f"toolu_{call['id'][5:]}",
                "name": call["function"]["name"],
                "input": arguments,
            }
        )
    prompt = sum(tokens(text_of(item.get("content"))) for item in chat["messages"])
    written = tokens(text or "") + sum(tokens(call["function"]["arguments"]) for call in calls)
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model") or "capable",
        "content": content,
        "stop_reason": _STOP_REASONS[reason],
        "stop_sequence": None,
        "usage": {
            "input_tokens": prompt - prompt // 2,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": prompt // 2,
            "output_tokens": written,
        },
    }


def events(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The same answer as Anthropic streams it: (event name, data) pairs, text word by word and tool
    input in two partial_json pieces."""
    whole = message(body)
    start = {**whole, "content": [], "stop_reason": None, "usage": {**whole["usage"], "output_tokens": 1}}
    stream: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start})
    ]
    for index, block in enumerate(whole["content"]):
        if block["type"] == "text":
            opening = {"type": "text", "text": ""}
            pieces = [{"type": "text_delta", "text": word} for word in re.findall(r"\s*\S+", block["text"])]
        else:
            opening = {**block, "input": {}}
            arguments = json.dumps(block["input"])
            halves = (arguments[: len(arguments) // 2], arguments[len(arguments) // 2 :])
            pieces = [{"type": "input_json_delta", "partial_json": half} for half in halves]
        stream.append(
            ("content_block_start", {"type": "content_block_start", "index": index, "content_block": opening})
        )
        stream += [
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": piece})
            for piece in pieces
        ]
        stream.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    ending = {"stop_reason": whole["stop_reason"], "stop_sequence": None}
    stream.append(("message_delta", {"type": "message_delta", "delta": ending, "usage": whole["usage"]}))
    stream.append(("message_stop", {"type": "message_stop"}))
    return stream

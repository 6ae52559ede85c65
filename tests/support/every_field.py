"""Answers of an OpenAI-compatible API with every field OpenAI documents, for chat and legacy
completions, whole and streamed (tests/integration/test_fidelity.py): logprobs, refusal, legacy
function_call, tool calls in several pieces, usage details, system_fingerprint, service_tier, a
`content: null`, the provider's own chunk id, and one field no document names that a proxy added (it
passes too)."""

from __future__ import annotations

import json
from typing import Any

MODEL = "gpt-x-2024-08-06"
# What a proxy in front of the model API might add (a key the gateway holds would be scrubbed from it:
# tests/integration/test_key_echo.py).
UNDOCUMENTED = {"x_debug": {"trace_id": "proxy-trace-0123", "region": "eu-west"}}
USAGE = {
    "prompt_tokens": 20,
    "completion_tokens": 9,
    "total_tokens": 29,
    "prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 2,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}
_HEAD = {
    "created": 1700000000,
    "model": MODEL,
    "system_fingerprint": "fp_44709d6fcb",
    "service_tier": "default",
}
_TOKEN_LOGPROBS = {
    "content": [
        {
            "token": "Hel",
            "logprob": -0.12,
            "bytes": [72, 101, 108],
            "top_logprobs": [{"token": "Hel", "logprob": -0.12, "bytes": [72, 101, 108]}],
        }
    ],
    "refusal": None,
}
_LEGACY_LOGPROBS = {
    "tokens": ["Hel", "lo"],
    "token_logprobs": [-0.12, -0.3],
    "top_logprobs": [{"Hel": -0.12}, {"lo": -0.3}],
    "text_offset": [0, 3],
}
_CALL = {
    "id": "call_abc",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
}


def chat_answer() -> dict[str, Any]:
    message = {
        "role": "assistant",
        "content": "Hello",
        "refusal": None,
        "annotations": [
            {"type": "url_citation", "url_citation": {"url": "https://example.com", "title": "x"}}
        ],
        "tool_calls": [_CALL],
        "function_call": {"name": "legacy_fn", "arguments": "{}"},
        **UNDOCUMENTED,
    }
    choice = {"index": 0, "message": message, "logprobs": _TOKEN_LOGPROBS, "finish_reason": "tool_calls"}
    return {"id": "chatcmpl-up1", "object": "chat.completion", **_HEAD, "choices": [choice], "usage": USAGE}


def completion_answer() -> dict[str, Any]:
    choice = {"index": 0, "text": "Hello", "logprobs": _LEGACY_LOGPROBS, "finish_reason": "length"}
    return {"id": "cmpl-up1", "object": "text_completion", **_HEAD, "choices": [choice], "usage": USAGE}


def chat_chunks(include_usage: bool) -> list[dict[str, Any]]:
    """A stream as OpenAI sends it; `usage` on every chunk (null) and the usage chunk only when asked."""
    deltas: list[tuple[dict[str, Any], Any, Any]] = [
        ({"role": "assistant", "content": "", "refusal": None}, None, None),
        ({"content": "Hel"}, _TOKEN_LOGPROBS, None),
        ({"content": None, "refusal": "I cannot help with that."}, None, None),
        (
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_abc",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            },
            None,
            None,
        ),
        ({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}, None, None),
        ({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}, None, None),
        ({"function_call": {"name": "legacy_fn", "arguments": ""}}, None, None),
        ({"function_call": {"arguments": "{}"}}, None, None),
        ({}, None, "tool_calls"),
    ]
    chunks = [
        _chunk(
            "chat.completion.chunk",
            {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": reason},
            include_usage,
        )
        for delta, logprobs, reason in deltas
    ]
    chunks[1] = {**chunks[1], "obfuscation": "Xy3"}
    return chunks + ([_usage_chunk("chat.completion.chunk")] if include_usage else [])


def completion_chunks(include_usage: bool) -> list[dict[str, Any]]:
    pieces = [("Hel", _LEGACY_LOGPROBS, None), ("lo", None, None), ("", None, "length")]
    chunks = [
        _chunk(
            "text_completion",
            {"index": 0, "text": text, "logprobs": logprobs, "finish_reason": reason},
            include_usage,
        )
        for text, logprobs, reason in pieces
    ]
    return chunks + ([_usage_chunk("text_completion")] if include_usage else [])


def _chunk(kind: str, choice: dict[str, Any], include_usage: bool) -> dict[str, Any]:
    chunk = {"id": "chatcmpl-up-stream-1", "object": kind, **_HEAD, "choices": [choice]}
    return {**chunk, "usage": None} if include_usage else chunk


def _usage_chunk(kind: str) -> dict[str, Any]:
    return {"id": "chatcmpl-up-stream-1", "object": kind, **_HEAD, "choices": [], "usage": USAGE}


def sse(chunks: list[dict[str, Any]], undocumented: bool = True) -> tuple[bytes, ...]:
    """The stream's events as the provider writes them (with the proxy's field on each, by default)."""
    events = [json.dumps({**chunk, **(UNDOCUMENTED if undocumented else {})}) for chunk in chunks]
    return tuple(f"data: {event}\n\n".encode() for event in [*events, "[DONE]"])


def events_of(text: str) -> list[Any]:
    """A server-sent event stream's data, each parsed ("[DONE]" as is)."""
    data = [block.removeprefix("data: ") for block in text.split("\n\n") if block.startswith("data: ")]
    return [item if item == "[DONE]" else json.loads(item) for item in data]

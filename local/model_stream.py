"""The built-in model's answers as OpenAI streams them: server-sent chunks, one token each, `pace_s`
apart as a model writes; tool-call arguments in pieces after a first chunk with the call's id and
name; logprobs per chunk when asked; the usage chunk when `stream_options.include_usage` asks."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from local.answers import Answer
from local.logprobs import chat_logprobs, completion_logprobs
from local.tokens import pieces

Chunk = dict[str, Any]


def chat_chunks(answer: Answer, header: Chunk, pace: Callable[[], None]) -> Iterator[Chunk]:
    def chunk(delta: dict[str, Any], finish_reason: str | None = None, logprobs: Any = None) -> Chunk:
        choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}
        return {**header, "choices": [choice]}

    if answer.tool_calls:
        (call,) = answer.tool_calls
        opening = {**call, "index": 0, "function": {"name": call["function"]["name"], "arguments": ""}}
        yield chunk({"role": "assistant", "content": None, "tool_calls": [opening]})
        for piece in pieces(call["function"]["arguments"]):
            pace()
            yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
    elif answer.function_call is not None:
        opening_call = {"name": answer.function_call["name"], "arguments": ""}
        yield chunk({"role": "assistant", "content": None, "function_call": opening_call})
        for piece in pieces(answer.function_call["arguments"]):
            pace()
            yield chunk({"function_call": {"arguments": piece}})
    else:
        yield chunk({"role": "assistant", "content": ""})
        for piece in pieces(answer.content or ""):
            pace()
            top = answer.top_logprobs
            yield chunk({"content": piece}, logprobs=chat_logprobs(piece, top) if top is not None else None)
    yield chunk({}, answer.finish_reason)


def completion_chunks(answer: Answer, header: Chunk, pace: Callable[[], None]) -> Iterator[Chunk]:
    offset = 0
    for piece in pieces(answer.content or ""):
        pace()
        top = answer.top_logprobs
        logprobs = completion_logprobs(piece, top, offset) if top is not None else None
        offset += len(piece)
        yield {
            **header,
            "choices": [{"index": 0, "text": piece, "logprobs": logprobs, "finish_reason": None}],
        }
    end = {"index": 0, "text": "", "logprobs": None, "finish_reason": answer.finish_reason}
    yield {**header, "choices": [end]}


def pacer(pace_s: float) -> Callable[[], None]:
    return (lambda: time.sleep(pace_s)) if pace_s > 0 else (lambda: None)

"""The same answers in each provider's own wire format, for tests that run one request through an
`openai`, an `anthropic` and a `bedrock` route: a text answer and a tool call, whole and streamed, as
`Behaviour`s for the loopback servers (FakeUpstream, FakeAnthropic, and FakeUpstream sending Bedrock's
Converse JSON and AWS event stream frames)."""

from __future__ import annotations

import json
from typing import Any

from tests.support import eventstream
from tests.support.bedrock_loopback import converse_answer
from tests.support.fake_anthropic import event_stream, message, text_block, text_stream, tool_use_block
from tests.support.fake_upstream import Behaviour, completion

# route name -> provider; the routes file below names them so.
ROUTES = {"gpt": "openai", "claude": "anthropic", "nova": "bedrock"}
BEDROCK_MODEL_ID = "us.amazon.nova-lite-v1:0"
ROUTES_FILE = """
default = "gpt"

[[route]]
name = "gpt"
provider = "openai"
endpoint = "{openai}"
model = "deepseek-chat"
key = "env:GPT_KEY"

[[route]]
name = "claude"
provider = "anthropic"
endpoint = "{anthropic}"
model = "claude-sonnet-4-5"
key = "env:CLAUDE_KEY"

[[route]]
name = "nova"
provider = "bedrock"
model = "{bedrock_model}"
"""
KEYS = {"GPT_KEY": "sk-gpt-route-key-0123456789", "CLAUDE_KEY": "sk-ant-route-key-0123456789"}
EVENT_STREAM = {"Content-Type": eventstream.CONTENT_TYPE}
SSE = {"Content-Type": "text/event-stream"}


def text(provider: str, words: tuple[str, ...], input_tokens: int = 12, output_tokens: int = 5) -> Behaviour:
    answer = "".join(words)
    if provider == "openai":
        return Behaviour(body=completion(answer, input_tokens, output_tokens))
    if provider == "anthropic":
        return Behaviour(
            body=message(text_block(answer), input_tokens=input_tokens, output_tokens=output_tokens)
        )
    return Behaviour(
        body=converse_answer({"text": answer}, input_tokens=input_tokens, output_tokens=output_tokens)
    )


def tool_call(provider: str, call_id: str, name: str, arguments: dict[str, Any]) -> Behaviour:
    if provider == "openai":
        body = completion("")
        call = {
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments)},
        }
        body["choices"][0]["message"] = {"role": "assistant", "content": None, "tool_calls": [call]}
        body["choices"][0]["finish_reason"] = "tool_calls"
        return Behaviour(body=body)
    if provider == "anthropic":
        return Behaviour(body=message(tool_use_block(call_id, name, arguments), stop_reason="tool_use"))
    block = {"toolUse": {"toolUseId": call_id, "name": name, "input": arguments}}
    return Behaviour(body=converse_answer(block, stop_reason="tool_use"))


def text_streamed(
    provider: str, words: tuple[str, ...], input_tokens: int = 25, output_tokens: int = 15
) -> Behaviour:
    if provider == "openai":
        deltas = [{"role": "assistant", "content": ""}] + [{"content": word} for word in words]
        return _openai_stream(deltas, "stop", input_tokens, output_tokens)
    if provider == "anthropic":
        events = text_stream(*words, input_tokens=input_tokens, output_tokens=output_tokens)
        return Behaviour(body=event_stream(*events), headers=SSE)
    frames = eventstream.text_answer(*words, input_tokens=input_tokens, output_tokens=output_tokens)
    return Behaviour(parts=tuple(frames), headers=EVENT_STREAM)


def tool_call_streamed(provider: str, call_id: str, name: str, arguments: dict[str, Any]) -> Behaviour:
    """The call's arguments arrive in two pieces, as models write them."""
    encoded = json.dumps(arguments)
    halves = (encoded[: len(encoded) // 2], encoded[len(encoded) // 2 :])
    if provider == "openai":
        first = {"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        deltas = [{"role": "assistant", "content": None, "tool_calls": [first]}]
        deltas += [{"tool_calls": [{"index": 0, "function": {"arguments": half}}]} for half in halves]
        return _openai_stream(deltas, "tool_calls", 12, 20)
    if provider == "anthropic":
        start = {**message(), "content": [], "stop_reason": None}
        tool = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
        events = [
            {"type": "message_start", "message": start},
            {"type": "content_block_start", "index": 0, "content_block": tool},
            *(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "input_json_delta", "partial_json": half},
                }
                for half in halves
            ),
            {"type": "content_block_stop", "index": 0},
            {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 20}},
            {"type": "message_stop"},
        ]
        return Behaviour(body=event_stream(*events), headers=SSE)
    event = eventstream.event
    frames = [
        event("messageStart", {"role": "assistant"}),
        event(
            "contentBlockStart",
            {"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": call_id, "name": name}}},
        ),
        *(
            event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"toolUse": {"input": half}}})
            for half in halves
        ),
        event("contentBlockStop", {"contentBlockIndex": 0}),
        event("messageStop", {"stopReason": "tool_use"}),
        eventstream.metadata(12, 20),
    ]
    return Behaviour(parts=tuple(frames), headers=EVENT_STREAM)


def failing(provider: str) -> list[Behaviour]:
    """The provider failing (its 503, Bedrock's ServiceUnavailableException), however often it is tried."""
    if provider == "bedrock":
        error = {"message": "unavailable"}
        return [Behaviour(503, error, headers={"x-amzn-ErrorType": "ServiceUnavailableException"})] * 4
    return [Behaviour(503, {"error": {"message": "unavailable", "type": "server_error"}})] * 4


def _openai_stream(
    deltas: list[dict[str, Any]], finish_reason: str, prompt_tokens: int, completion_tokens: int
) -> Behaviour:
    """OpenAI's chunks for `deltas`, the finish, the usage chunk and [DONE]."""
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}
    chunks = [_chunk([{"index": 0, "delta": delta, "finish_reason": None}]) for delta in deltas]
    chunks += [
        _chunk([{"index": 0, "delta": {}, "finish_reason": finish_reason}]),
        {**_chunk([]), "usage": usage},
    ]
    body = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks) + "data: [DONE]\n\n"
    return Behaviour(body=body.encode(), headers=SSE)


def _chunk(choices: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "up-stream-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "m",
        "choices": choices,
    }

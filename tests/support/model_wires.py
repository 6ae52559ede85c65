"""One scripted answer, written in each provider's own wire format: a text, a tool call, and both as
streams. A test says what the model answers; the route's loopback server sends it as that provider would
(OpenAI chat chunks, Anthropic's Messages events, Bedrock's Converse and event stream frames, OpenAI's
Responses events)."""

from __future__ import annotations

import json
from typing import Any

from tests.support import fake_anthropic as anthropic
from tests.support import fake_responses as responses
from tests.support.eventstream import CONTENT_TYPE, event, metadata, text_answer
from tests.support.fake_upstream import Behaviour, completion


class OpenAIChat:
    def text(self, text: str) -> Behaviour:
        return Behaviour(body=completion(text, prompt_tokens=11, completion_tokens=4))

    def tool_call(self, call_id: str, name: str, arguments: dict[str, Any]) -> Behaviour:
        body = completion("", prompt_tokens=30, completion_tokens=9)
        call = {
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments)},
        }
        body["choices"][0]["message"] = {"role": "assistant", "content": None, "tool_calls": [call]}
        body["choices"][0]["finish_reason"] = "tool_calls"
        return Behaviour(body=body)

    def stream_text(self, *words: str) -> Behaviour:
        return Behaviour(words=words)  # the fake's own chunk per word, then usage

    def stream_tool_call(self, call_id: str, name: str, arguments: dict[str, Any]) -> Behaviour:
        text = json.dumps(arguments)
        head = {"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        chunks = [
            {"delta": {"role": "assistant", "content": None, "tool_calls": [head]}, "finish_reason": None},
            {
                "delta": {"tool_calls": [{"index": 0, "function": {"arguments": text[:5]}}]},
                "finish_reason": None,
            },
            {
                "delta": {"tool_calls": [{"index": 0, "function": {"arguments": text[5:]}}]},
                "finish_reason": None,
            },
            {"delta": {}, "finish_reason": "tool_calls"},
        ]
        lines = [
            {
                "id": "c1",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "m",
                "choices": [{"index": 0, **c}],
            }
            for c in chunks
        ]
        usage = {"prompt_tokens": 30, "completion_tokens": 9, "total_tokens": 39}
        lines.append(
            {
                "id": "c1",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "m",
                "choices": [],
                "usage": usage,
            }
        )
        data = "".join(f"data: {json.dumps(line)}\n\n" for line in lines) + "data: [DONE]\n\n"
        return Behaviour(body=data.encode())


class Anthropic:
    def text(self, text: str) -> Behaviour:
        return Behaviour(body=anthropic.message(anthropic.text_block(text), input_tokens=11, output_tokens=4))

    def tool_call(self, call_id: str, name: str, arguments: dict[str, Any]) -> Behaviour:
        block = anthropic.tool_use_block(call_id, name, arguments)
        return Behaviour(
            body=anthropic.message(block, stop_reason="tool_use", input_tokens=30, output_tokens=9)
        )

    def stream_text(self, *words: str) -> Behaviour:
        return Behaviour(body=anthropic.event_stream(*anthropic.text_stream(*words)))

    def stream_tool_call(self, call_id: str, name: str, arguments: dict[str, Any]) -> Behaviour:
        start = {**anthropic.message(input_tokens=30, output_tokens=1), "content": [], "stop_reason": None}
        block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
        delta = {"type": "input_json_delta", "partial_json": json.dumps(arguments)}
        return Behaviour(
            body=anthropic.event_stream(
                {"type": "message_start", "message": start},
                {"type": "content_block_start", "index": 0, "content_block": block},
                {"type": "content_block_delta", "index": 0, "delta": delta},
                {"type": "content_block_stop", "index": 0},
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "tool_use"},
                    "usage": {"output_tokens": 9},
                },
                {"type": "message_stop"},
            )
        )


class BedrockConverse:
    def text(self, text: str) -> Behaviour:
        return Behaviour(body=_converse([{"text": text}], "end_turn", 11, 4))

    def tool_call(self, call_id: str, name: str, arguments: dict[str, Any]) -> Behaviour:
        use = {"toolUse": {"toolUseId": call_id, "name": name, "input": arguments}}
        return Behaviour(body=_converse([use], "tool_use", 30, 9))

    def stream_text(self, *words: str) -> Behaviour:
        return Behaviour(parts=tuple(text_answer(*words)), headers={"Content-Type": CONTENT_TYPE})

    def stream_tool_call(self, call_id: str, name: str, arguments: dict[str, Any]) -> Behaviour:
        start = {"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": call_id, "name": name}}}
        delta = {"contentBlockIndex": 0, "delta": {"toolUse": {"input": json.dumps(arguments)}}}
        frames = (
            event("messageStart", {"role": "assistant"}),
            event("contentBlockStart", start),
            event("contentBlockDelta", delta),
            event("contentBlockStop", {"contentBlockIndex": 0}),
            event("messageStop", {"stopReason": "tool_use"}),
            metadata(30, 9),
        )
        return Behaviour(parts=frames, headers={"Content-Type": CONTENT_TYPE})


class OpenAIResponses:
    def text(self, text: str) -> Behaviour:
        return Behaviour(body=responses.response(responses.message(text), input_tokens=11, output_tokens=4))

    def tool_call(self, call_id: str, name: str, arguments: dict[str, Any]) -> Behaviour:
        call = responses.function_call(call_id, name, json.dumps(arguments))
        return Behaviour(
            body=responses.response(responses.reasoning(), call, input_tokens=30, output_tokens=9)
        )

    def stream_text(self, *words: str) -> Behaviour:
        answer = responses.response(responses.message("".join(words)), input_tokens=11, output_tokens=4)
        return Behaviour(body=responses.stream_events(answer))

    def stream_tool_call(self, call_id: str, name: str, arguments: dict[str, Any]) -> Behaviour:
        call = responses.function_call(call_id, name, json.dumps(arguments))
        answer = responses.response(responses.reasoning(), call, input_tokens=30, output_tokens=9)
        return Behaviour(body=responses.stream_events(answer))


def _converse(
    blocks: list[dict[str, Any]], stop_reason: str, input_tokens: int, output_tokens: int
) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": blocks}},
        "stopReason": stop_reason,
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        },
        "metrics": {"latencyMs": 120},
    }

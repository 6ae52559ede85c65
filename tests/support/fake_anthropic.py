"""`FakeUpstream` speaking Anthropic's wire format: Messages API answers, `x-api-key`, its error bodies."""

from __future__ import annotations

import json
from typing import Any

from tests.support.fake_upstream import FakeUpstream


def message(
    *blocks: dict[str, Any],
    stop_reason: str = "end_turn",
    input_tokens: int = 12,
    output_tokens: int = 6,
    model: str = "claude-test",
) -> dict[str, Any]:
    """A Messages API answer; one text block unless `blocks` are given."""
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "content": list(blocks) or [text_block("Hello from Claude")],
        "model": model,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def tool_use_block(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": call_id, "name": name, "input": arguments}


def error_body(error_type: str, text: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": text}}


class FakeAnthropic(FakeUpstream):
    def key_sent(self, headers: Any) -> str:
        return str(headers.get("x-api-key") or "")

    def key_rejected_body(self, key: str) -> Any:
        return error_body("authentication_error", f"invalid x-api-key {key}")

    def normal_answer(self, method: str, path: str, body: Any) -> Any:
        if method == "GET":
            return {
                "data": [{"type": "model", "id": "claude-test", "display_name": "Claude Test"}],
                "has_more": False,
            }
        return message(model=(body or {}).get("model", "claude-test"))


def event_stream(*events: dict[str, Any]) -> bytes:
    """A Messages API stream as its server-sent events (`event:` named after each event's type)."""
    return b"".join(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode() for event in events)


def text_stream(
    *words: str, stop_reason: str = "end_turn", input_tokens: int = 25, output_tokens: int = 15
) -> list[dict[str, Any]]:
    """The events of a streamed text answer, as Anthropic sends them (a ping included)."""
    start = {**message(input_tokens=input_tokens, output_tokens=1), "content": [], "stop_reason": None}
    return [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        *(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": word}}
            for word in words
        ),
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        },
        {"type": "message_stop"},
    ]

"""`FakeUpstream` speaking Anthropic's wire format: Messages API answers, `x-api-key`, its error bodies."""

from __future__ import annotations

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

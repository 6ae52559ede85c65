"""`FakeUpstream` speaking OpenAI's Responses API (`POST /v1/responses`): response objects, and their
streams as OpenAI writes them (every event with its `sequence_number`)."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.support.fake_upstream import FakeUpstream


def response(
    *output: dict[str, Any],
    status: str = "completed",
    input_tokens: int = 21,
    output_tokens: int = 9,
    reasoning_tokens: int = 0,
    model: str = "gpt-5-mini",
) -> dict[str, Any]:
    """A Responses API answer; one message unless `output` items are given."""
    return {
        "id": "resp_upstream_0123",
        "object": "response",
        "created_at": 1760000000,
        "status": status,
        "model": model,
        "output": list(output) or [message("Hello from the Responses API")],
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 4},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
            "total_tokens": input_tokens + output_tokens,
        },
        "reasoning": {"effort": "low", "summary": None},
        "echoed_request_headers": {"authorization": "Bearer sk-upstream-must-never-leak"},
    }


def message(text: str, item_id: str = "msg_up_1") -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def function_call(call_id: str, name: str, arguments: str, item_id: str = "fc_up_1") -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "status": "completed",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def reasoning(item_id: str = "rs_up_1") -> dict[str, Any]:
    return {"id": item_id, "type": "reasoning", "summary": [], "encrypted_content": "gAAAA-opaque"}


def stream_events(answer: dict[str, Any], cut_after_deltas: int | None = None) -> bytes:
    """`answer` as OpenAI streams it: created, in_progress, each item's events, completed."""
    events: list[dict[str, Any]] = []
    started = {**answer, "status": "in_progress", "output": [], "usage": None}
    events += [{"type": "response.created", "response": started}]
    events += [{"type": "response.in_progress", "response": started}]
    deltas = 0
    for index, item in enumerate(answer["output"]):
        opened = {**item, "status": "in_progress"}
        if item["type"] == "message":
            opened["content"] = []
        if item["type"] == "function_call":
            opened["arguments"] = ""
        events.append({"type": "response.output_item.added", "output_index": index, "item": opened})
        if item["type"] == "message":
            text = item["content"][0]["text"]
            where = {"item_id": item["id"], "output_index": index, "content_index": 0}
            part = {"type": "output_text", "text": "", "annotations": []}
            events.append({"type": "response.content_part.added", **where, "part": part})
            for word in re.findall(r"\s*\S+", text):
                if deltas == cut_after_deltas:
                    return _sse(events)
                deltas += 1
                events.append({"type": "response.output_text.delta", **where, "delta": word, "logprobs": []})
            events.append({"type": "response.output_text.done", **where, "text": text, "logprobs": []})
            events.append({"type": "response.content_part.done", **where, "part": {**part, "text": text}})
        if item["type"] == "function_call":
            where = {"item_id": item["id"], "output_index": index}
            events.append(
                {"type": "response.function_call_arguments.delta", **where, "delta": item["arguments"]}
            )
            events.append(
                {"type": "response.function_call_arguments.done", **where, "arguments": item["arguments"]}
            )
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    kind = "response.incomplete" if answer["status"] == "incomplete" else "response.completed"
    events.append({"type": kind, "response": answer})
    return _sse(events)


def _sse(events: list[dict[str, Any]]) -> bytes:
    numbered = ({**event, "sequence_number": number} for number, event in enumerate(events))
    return b"".join(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode() for event in numbered)


class FakeResponsesAPI(FakeUpstream):
    """Answers `/responses` in the Responses API's shape (chat paths as the base class does)."""

    def normal_answer(self, method: str, path: str, body: Any) -> Any:
        if method == "POST" and path.endswith("/responses"):
            return response(model=(body or {}).get("model", "gpt-5-mini"))
        return super().normal_answer(method, path, body)

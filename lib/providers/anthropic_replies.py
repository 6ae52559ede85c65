"""Anthropic's answers as OpenAI's: a message as a `chat.completion` (or `text_completion`), and the
Messages API's stream as provider-neutral pieces. Any shape Anthropic does not send is an upstream
error (502) or a malformed stream, and the provider's own text is never repeated.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from lib.core.openai_shape import prompt_cache_details
from lib.core.pieces import StreamPiece
from lib.core.request import ModelRequest
from lib.platform.errors import UpstreamError
from lib.providers.base import StreamedToolCalls
from lib.providers.upstream_stream import ServerEvent, StreamFault

_FINISH_REASONS: Mapping[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_NOT_A_MESSAGE = "the Anthropic API answered with something other than a message"


def parse(body: dict[str, Any], request: ModelRequest) -> dict[str, Any]:
    content, usage = body.get("content"), body.get("usage")
    if body.get("type") != "message" or not isinstance(content, list) or not isinstance(usage, dict):
        raise UpstreamError(_NOT_A_MESSAGE)
    texts: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    for block in content:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif kind == "tool_use" and _is_tool_use(block):
            arguments = json.dumps(block["input"], ensure_ascii=False)
            tool_calls.append(
                {
                    "id": block["id"],
                    "type": "function",
                    "function": {"name": block["name"], "arguments": arguments},
                }
            )
        elif kind in ("text", "tool_use") or not isinstance(kind, str):
            raise UpstreamError(_NOT_A_MESSAGE)
        # Other blocks (thinking, ...) hold no part of the answer.
    stop_reason = body.get("stop_reason")
    if not isinstance(stop_reason, str):
        raise UpstreamError(_NOT_A_MESSAGE)
    finish_reason = _FINISH_REASONS.get(stop_reason, "stop")
    text = "".join(texts)
    choice: dict[str, Any]
    if request.kind == "chat":
        message: dict[str, Any] = {"role": "assistant", "content": text if texts or not tool_calls else None}
        if tool_calls:
            message["tool_calls"] = tool_calls
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
    else:
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}
    prompt_tokens, completion_tokens = _prompt_tokens(usage), _counted(usage.get("output_tokens"))
    if prompt_tokens is None or completion_tokens is None:
        raise UpstreamError(_NOT_A_MESSAGE)
    model = body.get("model")
    reply: dict[str, Any] = {
        "object": "chat.completion" if request.kind == "chat" else "text_completion",
        "created": int(time.time()),
        "model": model if isinstance(model, str) else request.model,
        "choices": [choice],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            **(usage_details(usage) or {}),
        },
    }
    if isinstance(body.get("id"), str):
        reply["id"] = body["id"]  # else the reply gets an id of ours
    return reply


def _is_tool_use(block: Mapping[str, Any]) -> bool:
    return (
        isinstance(block.get("id"), str)
        and isinstance(block.get("name"), str)
        and isinstance(block.get("input"), dict)
    )


def parse_stream(
    events: Iterable[ServerEvent], request: ModelRequest, *, native: bool = False
) -> Iterator[StreamPiece]:
    """The Messages API's events (message_start, content blocks and their deltas, message_delta,
    message_stop) as pieces. With `native`, each event also comes as it was sent, in a piece of its own
    before the pieces read from it (for a caller of the Messages API). A stream that ends before
    message_stop was cut."""
    prompt_tokens: int | None = None
    details: dict[str, Any] | None = None
    tool_calls = StreamedToolCalls()
    for event in events:
        data = _event_data(event)
        kind = data.get("type")
        if native and kind != "error":
            yield StreamPiece(native=data)
        if kind == "message_start":
            message = data.get("message")
            usage = message.get("usage") if isinstance(message, dict) else None
            prompt_tokens = _prompt_tokens(usage) if isinstance(usage, dict) else None
            details = usage_details(usage) if isinstance(usage, dict) else None
            model = message.get("model") if isinstance(message, dict) else None
            yield StreamPiece(role="assistant", model=model if isinstance(model, str) else None)
        elif kind == "content_block_start":
            block = _field(data, "content_block")
            if block.get("type") == "tool_use":
                if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
                    raise StreamFault("malformed", "the model sent a tool call without an id or a name")
                yield tool_calls.started(data.get("index"), block["id"], block["name"])
            elif block.get("type") == "text" and isinstance(block.get("text"), str) and block["text"]:
                yield StreamPiece(text=block["text"])
        elif kind == "content_block_delta":
            delta = _field(data, "delta")
            if delta.get("type") == "text_delta" and isinstance(delta.get("text"), str):
                yield StreamPiece(text=delta["text"])
            elif delta.get("type") == "input_json_delta" and isinstance(delta.get("partial_json"), str):
                yield tool_calls.arguments(data.get("index"), delta["partial_json"])
            # Other deltas (thinking, signatures, citations) hold no part of the answer.
        elif kind == "message_delta":
            stop_reason, usage = _field(data, "delta").get("stop_reason"), data.get("usage")
            prompt_tokens = (_prompt_tokens(usage) if isinstance(usage, dict) else None) or prompt_tokens
            details = (usage_details(usage) if isinstance(usage, dict) else None) or details
            output_tokens = _counted(usage.get("output_tokens")) if isinstance(usage, dict) else None
            yield StreamPiece(
                finish_reason=_FINISH_REASONS.get(stop_reason, "stop")
                if isinstance(stop_reason, str)
                else None,
                usage=(prompt_tokens, output_tokens)
                if prompt_tokens is not None and output_tokens is not None
                else None,
                usage_details=details,
            )
        elif kind == "message_stop":
            return
        elif kind == "error":
            raise StreamFault("malformed", "the model sent an error event instead of the rest of its answer")
        # ping, and event types Anthropic adds later, carry nothing to forward.
    raise StreamFault("cut", "the stream ended before the answer did")


def _event_data(event: ServerEvent) -> dict[str, Any]:
    try:
        data = json.loads(event.data)
    except ValueError:
        raise StreamFault("malformed", "the model sent an event that is not JSON") from None
    if not isinstance(data, dict):
        raise StreamFault("malformed", "the model sent an event that is not a JSON object")
    return data


def _field(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name)
    if not isinstance(value, dict):
        raise StreamFault("malformed", f"the model sent a {data.get('type')} event without its {name}")
    return value


def _prompt_tokens(usage: Mapping[str, Any]) -> int | None:
    """Tokens read from or written to the prompt cache are prompt tokens too: all of them are billed."""
    counts = [
        usage.get(name) for name in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    ]
    if _counted(counts[0]) is None or any(
        value is not None and _counted(value) is None for value in counts[1:]
    ):
        return None
    return sum(value or 0 for value in counts)


def usage_details(usage: Mapping[str, Any]) -> dict[str, Any] | None:
    """The prompt cache's reads and writes, in OpenAI's usage details."""
    read, written = (
        _counted(usage.get(name)) for name in ("cache_read_input_tokens", "cache_creation_input_tokens")
    )
    return prompt_cache_details(read, written)


def _counted(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None

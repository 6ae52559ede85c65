"""The neutral answer: an OpenAI-shaped `chat.completion` or `text_completion` body, its text and its usage
(the provider's own count, or a flagged estimate)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from lib.core.request import ModelRequest
from lib.core.token_estimate import output_tokens, text_tokens


class Usage(NamedTuple):
    prompt_tokens: int
    completion_tokens: int
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


def estimate_tokens(text: str) -> int:
    """At least what any tokenizer makes of `text` (lib/core/token_estimate.py)."""
    return text_tokens(text)


def usage_of(body: Mapping[str, Any], request: ModelRequest) -> Usage:
    """The upstream's own usage figures; an estimate (flagged) when it sent none, so budgets still count."""
    usage = body.get("usage")
    if isinstance(usage, dict):
        prompt = usage.get("prompt_tokens")
        completion = usage.get("completion_tokens")
        if (
            isinstance(prompt, int)
            and isinstance(completion, int)
            and is_count(prompt)
            and is_count(completion)
        ):
            return Usage(prompt, completion)
    # The input's upper bound (tools, schemas and images too), and the answer's text and tool calls.
    return Usage(
        request.input_tokens, output_tokens(completion_text(body), tool_calls_of(body)), estimated=True
    )


def completion_text(body: Mapping[str, Any]) -> str:
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return ""
    first = choices[0]
    message = first.get("message")
    if isinstance(message, dict) and isinstance(message.get("content"), str):
        return str(message["content"])
    return first["text"] if isinstance(first.get("text"), str) else ""


def tool_calls_of(body: Mapping[str, Any]) -> list[Any]:
    choices = body.get("choices")
    first = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    message = first.get("message") if isinstance(first.get("message"), dict) else {}
    calls = message.get("tool_calls") if isinstance(message, dict) else None
    return calls if isinstance(calls, list) else []


def is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0

"""The neutral answer: an OpenAI-shaped `chat.completion` or `text_completion` body, its text and its usage
(the provider's own count, or a flagged estimate)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from lib.core.request import ModelRequest


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
    """A deliberately generous estimate (one token per 4 characters, at least 1 for non-empty text)."""
    return math.ceil(len(text) / 4)


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
    # Every text sent counts (tools and schemas too), not only the prompt.
    prompt_estimate = max(estimate_tokens(request.prompt_text()), math.ceil(request.input_chars / 4))
    return Usage(prompt_estimate, estimate_tokens(completion_text(body)), estimated=True)


def completion_text(body: Mapping[str, Any]) -> str:
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return ""
    first = choices[0]
    message = first.get("message")
    if isinstance(message, dict) and isinstance(message.get("content"), str):
        return str(message["content"])
    return first["text"] if isinstance(first.get("text"), str) else ""


def is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0

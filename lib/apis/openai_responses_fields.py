"""The Responses API's fields the gateway checks itself: `metadata`, `include`, the hints only a
route that passes the request through can honour, and a provider's refusal renamed in the Responses
API's terms."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lib.apis.openai_responses_items import Untranslatable
from lib.platform.errors import InvalidRequest
from lib.stages.validation import is_int

# `include` values: honoured (input image URLs are kept; no translated answer has reasoning items or
# hosted tool calls whose details could be left out), or only a route that passes through can honour.
_INCLUDES = frozenset(
    {
        "reasoning.encrypted_content",
        "message.input_image.image_url",
        "file_search_call.results",
        "web_search_call.results",
        "web_search_call.action.sources",
        "code_interpreter_call.outputs",
        "computer_call_output.output.image_url",
    }
)


def read_hints(body: Mapping[str, Any]) -> list[Untranslatable]:
    """Hints that ask for something only the Responses API's own provider can do."""
    missing = []
    if body.get("prompt") is not None:
        if not isinstance(body["prompt"], dict):
            raise InvalidRequest(
                "prompt must be a prompt template reference (an object); use input", param="prompt"
            )
        missing.append(Untranslatable("prompt", "a stored prompt template"))
    top_logprobs = body.get("top_logprobs")
    if top_logprobs is not None:
        if not is_int(top_logprobs) or not 0 <= top_logprobs <= 20:
            raise InvalidRequest("top_logprobs must be a whole number from 0 to 20", param="top_logprobs")
        if top_logprobs:
            missing.append(Untranslatable("top_logprobs", "log probabilities"))
    truncation = body.get("truncation")
    if truncation is not None and truncation not in ("auto", "disabled"):
        raise InvalidRequest('truncation must be "auto" or "disabled"', param="truncation")
    return missing


def read_includes(include: Any) -> list[Untranslatable]:
    if include is None:
        return []
    if not isinstance(include, list) or not all(isinstance(value, str) for value in include):
        raise InvalidRequest("include must be an array of strings", param="include")
    return [
        Untranslatable(f"include[{index}]", f"include {value!r}")
        for index, value in enumerate(include)
        if value not in _INCLUDES
    ]


def read_metadata(value: Any) -> dict[str, str]:
    """OpenAI's rule: at most 16 pairs, keys up to 64 characters, values up to 512, all strings."""
    if value is None:
        return {}
    if (
        not isinstance(value, dict)
        or len(value) > 16
        or not all(isinstance(key, str) and len(key) <= 64 for key in value)
        or not all(isinstance(text, str) and len(text) <= 512 for text in value.values())
    ):
        raise InvalidRequest(
            "metadata must be an object of at most 16 strings (keys up to 64 characters, values up to 512)",
            param="metadata",
        )
    return dict(value)


def in_responses_terms(error: InvalidRequest) -> InvalidRequest:
    """A provider's refusal of the translated request, naming the Responses API's fields."""

    def renamed(text: str) -> str:
        for pattern, name in _RESPONSES_NAMES:
            text = pattern.sub(name, text)
        return text

    return InvalidRequest(
        renamed(error.message), param=renamed(error.param) if error.param else None, code=error.code
    )


# Chat's names (the translated request's) -> the Responses API's. Message indexes differ (instructions
# and stored turns come first), so a message is named `input`.
_RESPONSES_NAMES = (
    (re.compile(r"\bresponse_format\b"), "text.format"),
    (re.compile(r"\bmessages(\[\d+\])?"), "input"),
    (re.compile(r"\b(tools\[\d+\])\.function\."), r"\1."),
    (re.compile(r"\bmax_tokens\b"), "max_output_tokens"),
)

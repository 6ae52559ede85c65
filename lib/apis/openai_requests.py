"""OpenAI's chat completions (`POST /v1/chat/completions`) and legacy completions (`POST /v1/completions`)
requests as a validated `ModelRequest`, or a 4xx that names the parameter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lib.core.request import ModelRequest, message_texts
from lib.platform.config import Settings
from lib.platform.errors import InvalidRequest
from lib.stages.text_rules import check_input, field_strings, message_strings
from lib.stages.validation import (
    MESSAGE_ROLES,
    check_parts,
    check_prompt,
    check_single_choice,
    is_content_parts,
    passed_through,
    read_domain,
    read_include_usage,
    read_max_tokens,
    read_model,
    read_seed,
    read_stream,
    read_temperature,
    with_system_prompt,
    without_media,
)


def parse_chat(body: Mapping[str, Any], settings: Settings) -> ModelRequest:
    """`POST /v1/chat/completions`, OpenAI's contract."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest(
            "messages must be a non-empty array of messages", param="messages", code="missing_prompt"
        )
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InvalidRequest(f"messages[{index}] must be an object", param=f"messages[{index}]")
        role = message.get("role")
        if not isinstance(role, str) or role not in MESSAGE_ROLES:  # a list or object is not hashable
            raise InvalidRequest(
                f"messages[{index}].role must be one of {', '.join(sorted(MESSAGE_ROLES))}",
                param=f"messages[{index}].role",
            )
        content = message.get("content")
        if not (content is None or isinstance(content, str) or is_content_parts(content)):
            raise InvalidRequest(
                f"messages[{index}].content must be a string or an array of content parts",
                param=f"messages[{index}].content",
            )
    media = check_parts(messages)
    text_messages = without_media(messages)
    text = "".join(message_texts(text_messages))
    check_prompt(text, settings, "messages", media=media, conversation=True)
    check_single_choice(body)
    read_max_tokens(body, settings, "max_tokens")  # checked even beside max_completion_tokens, which wins
    extra = passed_through(body)
    texts = {"messages": list(message_strings(text_messages)), **field_strings(extra)}
    input_chars = check_input(texts, settings)
    return ModelRequest(
        kind="chat",
        messages=with_system_prompt(tuple(messages), settings),
        prompt_chars=len(text),
        input_chars=input_chars + len(settings.system_prompt or ""),
        extra=extra,
        **_openai_options(
            body, settings, "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
        ),
    )


def parse_completion(body: Mapping[str, Any], settings: Settings) -> ModelRequest:
    """`POST /v1/completions`, OpenAI's legacy contract (one prompt per request)."""
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        if len(prompt) != 1 or not isinstance(prompt[0], str):
            raise InvalidRequest(
                "prompt must be a string (or an array of exactly one string)", param="prompt"
            )
        prompt = prompt[0]
    if prompt is None or prompt == "":
        raise InvalidRequest("missing prompt", param="prompt", code="missing_prompt")
    if not isinstance(prompt, str):
        raise InvalidRequest("prompt must be a string", param="prompt")
    check_prompt(prompt, settings, "prompt")
    check_single_choice(body)
    extra = passed_through(body)
    input_chars = check_input({"prompt": [prompt], **field_strings(extra)}, settings)
    full_prompt = f"{settings.system_prompt}\n\n{prompt}" if settings.system_prompt else prompt
    return ModelRequest(
        kind="completion",
        prompt=full_prompt,
        prompt_chars=len(prompt),
        input_chars=input_chars + len(full_prompt) - len(prompt),
        extra=extra,
        **_openai_options(body, settings, "max_tokens"),
    )


def _openai_options(body: Mapping[str, Any], settings: Settings, max_tokens_field: str) -> dict[str, Any]:
    """The fields both OpenAI contracts share, validated."""
    return {
        "model": read_model(body, settings),
        "max_tokens": read_max_tokens(body, settings, max_tokens_field),
        **read_temperature(body, settings),
        "seed": read_seed(body),
        "stream": read_stream(body),
        "include_usage": read_include_usage(body),
        "domain": read_domain(body),
    }

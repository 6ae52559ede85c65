"""OpenAI's Responses API (`POST /v1/responses`): the request checked, then its conversation (stored
turns and this input) as the neutral chat-shaped `ModelRequest`, or, for a route whose provider
speaks the Responses API itself, as that same request with the caller's own body beside it.

Each field is translated (input, instructions, tools, tool_choice, parallel_tool_calls, text.format,
temperature, top_p, max_output_tokens, user), decided by the gateway (store, previous_response_id,
stream, metadata, include, background, conversation, seed, domain), or a hint with no chat equivalent,
accepted and not sent on a translated route (reasoning, text.verbosity, prompt_cache_key,
prompt_cache_retention, safety_identifier, service_tier, truncation, max_tool_calls, stream_options).
Any other field follows chat's rule: passed on, with the types OpenAI documents.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from lib.apis.openai_responses_items import Untranslatable, chat_messages, input_items
from lib.apis.openai_responses_tools import chat_tool_choice, chat_tools, response_format
from lib.core.request import ModelRequest, Native, message_texts
from lib.platform.config import Settings
from lib.platform.errors import InvalidRequest
from lib.stages.field_types import check_field_types
from lib.stages.text_rules import check_input, field_strings, message_strings
from lib.stages.validation import (
    check_prompt,
    check_single_choice,
    is_int,
    read_domain,
    read_max_tokens,
    read_model,
    read_seed,
    read_stream,
    read_temperature,
    with_system_prompt,
)

_TRANSLATED = frozenset(
    {"input", "instructions", "tools", "tool_choice", "text", "top_p", "parallel_tool_calls", "user"}
)
_GATEWAY = frozenset(
    {
        "model",
        "max_output_tokens",
        "temperature",
        "store",
        "previous_response_id",
        "stream",
        "metadata",
        "include",
        "background",
        "conversation",
        "seed",
        "domain",
        "n",
    }
)
_HINTS = frozenset(
    {
        "reasoning",
        "prompt_cache_key",
        "prompt_cache_retention",
        "safety_identifier",
        "service_tier",
        "truncation",
        "max_tool_calls",
        "stream_options",
        "top_logprobs",
        "prompt",
    }
)
# Chat's names for what the Responses API calls otherwise: a 400 that says which to use.
_CHAT_NAMES = {
    "messages": "input",
    "max_tokens": "max_output_tokens",
    "max_completion_tokens": "max_output_tokens",
}
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
# Fields a route that passes the request through gets from the gateway, not from the caller's body.
_NOT_PASSED = frozenset({"store", "previous_response_id", "stream", "metadata", "domain", "seed", "n"})


class ResponsesCall(NamedTuple):
    """A checked `POST /v1/responses` request."""

    body: Mapping[str, Any]  # as the caller sent it: the reply echoes it, a passing-through route gets it
    items: list[dict[str, Any]]  # its input items, with ids
    store: bool
    previous_response_id: str | None
    stream: bool
    metadata: dict[str, str]
    extra: dict[str, Any]  # translated options, in chat's shape, and other fields passed on
    untranslatable: tuple[Untranslatable, ...]
    options: dict[str, Any]  # ModelRequest's model, max_tokens, temperature, seed, stream, domain


def parse_responses(body: Mapping[str, Any], settings: Settings) -> ResponsesCall:
    for name, instead in _CHAT_NAMES.items():
        if name in body:
            raise InvalidRequest(f"{name} is not a Responses API field; use {instead}", param=name)
    if body.get("background"):
        raise InvalidRequest(
            "background responses are not served: every response is answered within its request",
            param="background",
            code="unsupported_parameter",
        )
    if body.get("conversation") is not None:
        raise InvalidRequest(
            "the Conversations API is not served; continue a conversation with previous_response_id",
            param="conversation",
            code="unsupported_parameter",
        )
    check_single_choice(body)
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise InvalidRequest("instructions must be a string", param="instructions")
    previous = body.get("previous_response_id")
    if previous is not None and (not isinstance(previous, str) or not previous):
        raise InvalidRequest("previous_response_id must be a response id", param="previous_response_id")
    store = body.get("store", True)
    if store is not None and not isinstance(store, bool):
        raise InvalidRequest("store must be true or false", param="store")
    untranslatable = [*_hints_only_passed(body), *_includes(body.get("include"))]
    extra: dict[str, Any] = {}
    tools, missing = chat_tools(body.get("tools"))
    untranslatable += missing
    if tools is not None:
        extra["tools"] = tools
    choice, missing = chat_tool_choice(body.get("tool_choice"))
    untranslatable += missing
    if choice is not None:
        extra["tool_choice"] = choice
    format_ = response_format(body.get("text"))
    if format_ is not None:
        extra["response_format"] = format_
    for name in ("top_p", "parallel_tool_calls", "user"):
        if body.get(name) is not None:
            extra[name] = body[name]
    extra.update((name, value) for name, value in body.items() if name not in _TRANSLATED | _GATEWAY | _HINTS)
    check_field_types(extra)
    options: dict[str, Any] = {
        "model": read_model(body, settings),
        "max_tokens": read_max_tokens(body, settings, "max_output_tokens"),
        **read_temperature(body, settings),
        "seed": read_seed(body),
        "stream": read_stream(body),
        "domain": read_domain(body),
    }
    return ResponsesCall(
        body=body,
        items=input_items(body.get("input")),
        store=store is not False,
        previous_response_id=previous,
        stream=options["stream"],
        metadata=_metadata(body.get("metadata")),
        extra=extra,
        untranslatable=tuple(untranslatable),
        options=options,
    )


def neutral_request(
    call: ResponsesCall, history: list[dict[str, Any]], settings: Settings
) -> tuple[ModelRequest, list[Untranslatable]]:
    """The whole conversation (`history`: the stored turns' items) as chat messages, checked like
    chat's; and everything that has no chat form."""
    labelled = [("previous_response_id", item) for item in history]
    labelled += [(f"input[{index}]", item) for index, item in enumerate(call.items)]
    messages, missing = chat_messages(labelled)
    instructions = call.body.get("instructions")
    if instructions:
        messages.insert(0, {"role": "system", "content": instructions})
    text = "".join(message_texts(messages))
    check_prompt(text, settings, "input")
    texts = {"input": list(message_strings(messages)), **field_strings(call.extra)}
    input_chars = check_input(texts, settings)
    request = ModelRequest(
        kind="chat",
        messages=with_system_prompt(tuple(messages), settings),
        prompt_chars=len(text),
        input_chars=input_chars + len(settings.system_prompt or ""),
        extra=call.extra,
        **call.options,
    )
    return request, [*call.untranslatable, *missing]


def with_native(
    request: ModelRequest, call: ResponsesCall, history: list[dict[str, Any]], settings: Settings
) -> ModelRequest:
    """The request for a route whose provider speaks the Responses API: the caller's body, its input
    preceded by the stored conversation, without the fields the gateway decides. Its text is checked
    and reserved too (hosted tools, reasoning items and the rest are sent)."""
    body = {name: value for name, value in call.body.items() if name not in _NOT_PASSED}
    caller_input = call.body["input"]
    if history:
        own = [{"role": "user", "content": caller_input}] if isinstance(caller_input, str) else caller_input
        body["input"] = [*(_as_input(item) for item in history if _resendable(item)), *own]
    sent = {name: value for name, value in body.items() if name not in ("model", "temperature")}
    input_chars = check_input(field_strings(sent), settings) + len(settings.system_prompt or "")
    return request._replace(
        native=Native("responses", body), input_chars=max(input_chars, request.input_chars)
    )


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


def _resendable(item: dict[str, Any]) -> bool:
    # The provider keeps nothing (the gateway sends store: false): a reasoning item is only any use
    # to it with its encrypted content.
    return item.get("type") != "reasoning" or bool(item.get("encrypted_content"))


def _as_input(item: dict[str, Any]) -> dict[str, Any]:
    """A stored item as an input item: input messages take no id."""
    if item.get("type") == "message" and item.get("role") != "assistant":
        return {name: value for name, value in item.items() if name != "id"}
    return item


def _hints_only_passed(body: Mapping[str, Any]) -> list[Untranslatable]:
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


def _includes(include: Any) -> list[Untranslatable]:
    if include is None:
        return []
    if not isinstance(include, list) or not all(isinstance(value, str) for value in include):
        raise InvalidRequest("include must be an array of strings", param="include")
    return [
        Untranslatable(f"include[{index}]", f"include {value!r}")
        for index, value in enumerate(include)
        if value not in _INCLUDES
    ]


def _metadata(value: Any) -> dict[str, str]:
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

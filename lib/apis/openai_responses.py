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

from collections.abc import Mapping
from typing import Any, NamedTuple

from lib.apis.openai_responses_fields import read_hints, read_includes, read_metadata
from lib.apis.openai_responses_items import Untranslatable, chat_messages, input_items
from lib.apis.openai_responses_tools import chat_tool_choice, chat_tools, response_format
from lib.core.request import ModelRequest, Native, message_texts
from lib.core.token_estimate import json_tokens
from lib.platform.config import Settings
from lib.platform.errors import InvalidRequest
from lib.stages.field_types import check_field_types
from lib.stages.text_rules import check_input, field_strings, message_strings
from lib.stages.validation import (
    check_prompt,
    check_single_choice,
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
# Fields a route that passes the request through gets from the gateway, not from the caller's body.
_NOT_PASSED = frozenset({"store", "previous_response_id", "stream", "metadata", "domain", "seed", "n"})


class ResponsesCall(NamedTuple):
    """A checked `POST /v1/responses` request."""

    body: Mapping[str, Any]  # as the caller sent it: the reply echoes it, a passing-through route gets it
    items: list[dict[str, Any]]  # its input items, with ids
    store: bool
    previous_response_id: str | None
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
    untranslatable = [*read_hints(body), *read_includes(body.get("include"))]
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
        metadata=read_metadata(body.get("metadata")),
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
    untranslatable = [*call.untranslatable, *missing]
    if text.strip() or not untranslatable:  # else what has no chat form (a file, a reference) is the input
        check_prompt(text, settings, "input", conversation=True)
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
    return request, untranslatable


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
        native=Native("responses", body),
        input_chars=max(input_chars, request.input_chars),
        native_only_tokens=_untranslated_tokens(body),
    )


def _untranslated_tokens(body: Mapping[str, Any]) -> int:
    """An upper bound of the reasoning items, which the chat form leaves out and the provider reads.
    (Other items chat has no form for, and hosted tools, are in the neutral request already.)"""
    items = body["input"] if isinstance(body["input"], list) else []
    return sum(
        json_tokens(item) for item in items if isinstance(item, dict) and item.get("type") == "reasoning"
    )


def _resendable(item: dict[str, Any]) -> bool:
    # The provider keeps nothing (the gateway sends store: false): a reasoning item is only any use
    # to it with its encrypted content.
    return item.get("type") != "reasoning" or bool(item.get("encrypted_content"))


def _as_input(item: dict[str, Any]) -> dict[str, Any]:
    """A stored item as an input item: input messages take no id, and a tool output's id (the gateway
    may have made it) is optional."""
    kind = item.get("type")
    if (kind == "message" and item.get("role") != "assistant") or kind == "function_call_output":
        return {name: value for name, value in item.items() if name != "id"}
    return item

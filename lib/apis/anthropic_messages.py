"""Anthropic's Messages API (`POST /v1/messages`, `POST /v1/messages/count_tokens`) as a validated
`ModelRequest`, or a 400 naming the field.

The request is read twice: into the neutral form every provider takes (anthropic_messages_content.py),
and as it came (`ModelRequest.native`), for an `anthropic` route, which passes it on unchanged but
for the fields the gateway decides: `model` (the route's), `max_tokens` (within MAX_TOKENS_LIMIT),
`temperature` (TEMPERATURE_POLICY), `stream`, and SYSTEM_PROMPT put before the caller's `system`.
Fields the neutral form has no name for (`top_k`, `thinking`, `container`, ...) keep their names in
it: a provider that cannot take one refuses it with a 400 naming it and the route.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lib.apis.anthropic_messages_content import (
    anthropic_only_tokens,
    neutral_messages,
    neutral_tool_choice,
    neutral_tools,
    system_texts,
    without_media,
)
from lib.core.request import ANTHROPIC_MESSAGES, ModelRequest, Native, message_texts
from lib.platform.config import Settings
from lib.platform.errors import InvalidRequest
from lib.stages.field_types import check_field_types
from lib.stages.text_rules import check_input, field_strings, message_strings
from lib.stages.validation import (
    check_prompt,
    is_int,
    read_max_tokens,
    read_model,
    read_stream,
    read_temperature,
)

# What the gateway decides: never passed on as the caller sent it.
_DECIDED = frozenset({"model", "max_tokens", "temperature", "stream"})
# Read into the neutral form under OpenAI's names.
_TRANSLATED = frozenset(
    {"messages", "system", "tools", "tool_choice", "stop_sequences", "top_p", "metadata", "output_config"}
)
# Values that ask for nothing beyond the default: left out of the neutral form.
_ASKS_NOTHING: Mapping[str, Any] = {"thinking": {"type": "disabled"}, "service_tier": "auto"}
# Only how Anthropic caches the prompt: nothing to ask of another provider.
_ANTHROPIC_HINTS = frozenset({"cache_control"})
# What may be sent in the anthropic-beta header: comma-separated feature names.
_BETA_FLAGS = re.compile(r"[A-Za-z0-9._-]+(\s*,\s*[A-Za-z0-9._-]+)*")
_MAX_BETA_CHARS = 1000


def parse_messages(body: Mapping[str, Any], settings: Settings, headers: Mapping[str, str]) -> ModelRequest:
    """`POST /v1/messages`: `model` and `max_tokens` required, as Anthropic's."""
    if body.get("max_tokens") is None:
        raise InvalidRequest("max_tokens: field required", param="max_tokens")
    return _parse(body, settings, headers, read_max_tokens(body, settings, "max_tokens"))


def parse_count_tokens(body: Mapping[str, Any], settings: Settings) -> ModelRequest:
    """`POST /v1/messages/count_tokens`: the same body without `max_tokens` (1 token is reserved)."""
    return _parse(body, settings, {}, 1)


def input_tokens(request: ModelRequest) -> int:
    """The count the budget reserves for the request's input (lib/core/token_estimate.py)."""
    return request.input_tokens


def _parse(
    body: Mapping[str, Any], settings: Settings, headers: Mapping[str, str], max_tokens: int
) -> ModelRequest:
    if not body.get("model"):
        raise InvalidRequest("model: field required", param="model")
    model = read_model(body, settings)
    messages = _checked_messages(body.get("messages"))
    neutral = neutral_messages(body.get("system"), messages)
    text = "".join(message_texts(neutral))
    if text.strip() or not _holds_more_than_text(messages):
        check_prompt(text, settings, "messages", conversation=True)
    extra = _neutral_fields(body)
    check_field_types(extra)
    sent = {name: value for name, value in body.items() if name not in _DECIDED}
    texts = {
        "system": system_texts(body.get("system")),
        "messages": list(message_strings(without_media(messages))),
        **field_strings({name: value for name, value in sent.items() if name not in ("system", "messages")}),
    }
    input_chars = check_input(texts, settings)
    system_prompt = settings.system_prompt
    if system_prompt:
        neutral.insert(0, {"role": "system", "content": system_prompt})
        sent["system"] = [{"type": "text", "text": system_prompt}, *_system_blocks(body.get("system"))]
    return ModelRequest(
        kind="chat",
        model=model,
        max_tokens=max_tokens,
        messages=tuple(neutral),
        **_temperature(body, settings),
        stream=read_stream(body),
        extra=extra,
        prompt_chars=len(text),
        input_chars=input_chars + len(system_prompt or ""),
        native=Native(ANTHROPIC_MESSAGES, sent, _beta_header(headers)),
        # Reserved whichever route serves: the bound holds when an anthropic route reads them.
        native_only_tokens=anthropic_only_tokens(messages),
    )


def _checked_messages(messages: Any) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages must be a non-empty array of messages", param="messages")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise InvalidRequest(f"{where} must be an object", param=where)
        if message.get("role") not in ("user", "assistant"):
            raise InvalidRequest(f'{where}.role must be "user" or "assistant"', param=f"{where}.role")
        content = message.get("content")
        blocks_ok = isinstance(content, list) and all(
            isinstance(block, dict) and isinstance(block.get("type"), str) for block in content
        )
        if not isinstance(content, str) and not blocks_ok:
            raise InvalidRequest(
                f"{where}.content must be a string or an array of content blocks", param=f"{where}.content"
            )
    return messages


def _holds_more_than_text(messages: list[dict[str, Any]]) -> bool:
    """An image, a tool result or a document with no text beside it is still a question."""
    return any(
        isinstance(message["content"], list) and any(block["type"] != "text" for block in message["content"])
        for message in messages
    )


def _system_blocks(system: Any) -> list[dict[str, Any]]:
    if isinstance(system, str):
        return [{"type": "text", "text": system}] if system else []
    return list(system or [])


def _temperature(body: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    value = body.get("temperature")
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1
    ):
        raise InvalidRequest("temperature must be a number from 0 to 1", param="temperature")
    return dict(read_temperature(body, settings))


def _neutral_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """The fields besides model, messages, max_tokens and temperature, under OpenAI's names where they
    have one, else under their own."""
    extra: dict[str, Any] = {}
    if body.get("tools") is not None:
        extra["tools"] = neutral_tools(body["tools"])
    if body.get("tool_choice") is not None:
        extra.update(neutral_tool_choice(body["tool_choice"]))
    stop = body.get("stop_sequences")
    if stop is not None:
        if not isinstance(stop, list) or not all(isinstance(item, str) for item in stop):
            raise InvalidRequest("stop_sequences must be an array of strings", param="stop_sequences")
        if stop:
            extra["stop"] = list(stop)
    top_p = body.get("top_p")
    if top_p is not None:
        if isinstance(top_p, bool) or not isinstance(top_p, int | float) or not 0 <= top_p <= 1:
            raise InvalidRequest("top_p must be a number from 0 to 1", param="top_p")
        extra["top_p"] = top_p
    top_k = body.get("top_k")
    if top_k is not None and (not is_int(top_k) or top_k < 0):
        raise InvalidRequest("top_k must be a whole number, 0 or more", param="top_k")
    extra.update(_metadata(body.get("metadata")))
    extra.update(_output_config(body.get("output_config")))
    for name, value in body.items():
        if name in _DECIDED or name in _TRANSLATED or name in _ANTHROPIC_HINTS or value is None:
            continue
        if name not in _ASKS_NOTHING or value != _ASKS_NOTHING[name]:
            extra[name] = value
    return extra


def _metadata(metadata: Any) -> dict[str, Any]:
    if metadata is None:
        return {}
    user_id = metadata.get("user_id") if isinstance(metadata, dict) else None
    if not isinstance(metadata, dict) or not (user_id is None or isinstance(user_id, str)):
        raise InvalidRequest('metadata must be {"user_id": "..."}', param="metadata")
    return {"user": user_id} if user_id else {}


def _output_config(config: Any) -> dict[str, Any]:
    """`output_config.format` (a JSON schema) as `response_format`, `effort` as `reasoning_effort`."""
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise InvalidRequest("output_config must be an object", param="output_config")
    fields: dict[str, Any] = {}
    rest = dict(config)
    output_format = rest.pop("format", None)
    if output_format is not None:
        schema = output_format.get("schema") if isinstance(output_format, dict) else None
        if (
            not isinstance(output_format, dict)
            or output_format.get("type") != "json_schema"
            or not isinstance(schema, dict)
        ):
            raise InvalidRequest(
                'output_config.format must be {"type": "json_schema", "schema": {...}}',
                param="output_config.format",
            )
        fields["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": schema},
        }
    effort = rest.pop("effort", None)
    if effort is not None:
        fields["reasoning_effort"] = effort
    if rest:
        fields["output_config"] = rest
    return fields


def _beta_header(headers: Mapping[str, str]) -> dict[str, str]:
    """The caller's `anthropic-beta` flags, passed to an `anthropic` route with its request."""
    value = next((text for name, text in headers.items() if name.lower() == "anthropic-beta"), "").strip()
    if not value:
        return {}
    if len(value) > _MAX_BETA_CHARS or not _BETA_FLAGS.fullmatch(value):
        raise InvalidRequest(
            "the anthropic-beta header must be comma-separated feature names", param="anthropic-beta"
        )
    return {"anthropic-beta": value}

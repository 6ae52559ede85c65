"""Bedrock's Converse API, the request half: a validated request as `client.converse(...)` arguments
(the answer's half is lib/providers/converse_reply.py).

What has no Converse equivalent (seed, logit_bias, penalties, log probabilities, image URLs, audio,
...) is refused with a 400 naming the field and the route, before Bedrock is asked (whose
ValidationException would only name its code: a 400 `upstream_rejected`).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from typing import Any

from lib.core.request import ModelRequest
from lib.platform.errors import InvalidRequest
from lib.platform.route_table import Route
from lib.providers import converse_tools, json_mode_tool, json_schema_output

# OpenAI fields with a Converse equivalent, beyond those ModelRequest carries itself.
_MAPPED = frozenset({"tools", "tool_choice", "top_p", "stop", "response_format", "parallel_tool_calls"})
# Fields that change nothing in the answer: accepted, not sent ("domain" is the gateway's own choice).
_IGNORED = frozenset({"user", "domain"})
# Converse's own limits (botocore's service model), checked here so they are a 400, not Bedrock's 400.
_TEMPERATURE_MAX = 1.0
_IMAGE_DATA_URL = re.compile(r"data:image/(jpeg|png|gif|webp);base64,([A-Za-z0-9+/=\s]+)", re.DOTALL)


def build(request: ModelRequest, route: Route) -> dict[str, Any]:
    """The keyword arguments of `client.converse(...)`; InvalidRequest for what Converse cannot take."""
    refuse = _Refusal(route)
    request = json_mode_tool.as_tool_request(request)
    if request.seed is not None:
        raise refuse("seed", "Converse has no seed")
    for field in request.extra:
        if field not in _MAPPED and field not in _IGNORED:
            raise refuse(field, "Converse has no equivalent")
    extra = request.extra
    inference: dict[str, Any] = {"maxTokens": request.max_tokens}
    if request.temperature is not None:
        if request.temperature > _TEMPERATURE_MAX:
            raise refuse("temperature", f"Converse takes 0 to {_TEMPERATURE_MAX:g}")
        inference["temperature"] = request.temperature
    if extra.get("top_p") is not None:
        inference["topP"] = _top_p(extra["top_p"], refuse)
    if extra.get("stop") is not None:
        inference["stopSequences"] = _stop_sequences(extra["stop"], refuse)
    output = json_schema_output.requested(extra.get("response_format"), refuse)

    arguments: dict[str, Any] = {"modelId": route.model, "inferenceConfig": inference}
    if output is not None:
        arguments["outputConfig"] = _output_config(output)
    if request.kind == "completion":
        for field in ("tools", "tool_choice"):
            if extra.get(field) is not None:
                raise refuse(field, "legacy completions take no tools")
        arguments["messages"] = [{"role": "user", "content": [{"text": request.prompt}]}]
        return arguments
    system, messages = _conversation(request.messages, refuse)
    if system:
        arguments["system"] = system
    arguments["messages"] = messages
    tool_config = converse_tools.tool_config(extra.get("tools"), extra.get("tool_choice"), messages, refuse)
    if tool_config:
        arguments["toolConfig"] = tool_config
        one_call = (
            converse_tools.one_tool_call(route, tool_config, refuse)
            if extra.get("parallel_tool_calls") is False
            else None
        )
        if one_call:
            arguments["additionalModelRequestFields"] = one_call
    return arguments


class _Refusal:
    def __init__(self, route: Route) -> None:
        self.route = route

    def __call__(self, field: str, reason: str) -> InvalidRequest:
        return InvalidRequest(
            f"{field} cannot be sent to route {self.route.name!r} (Bedrock): {reason}",
            param=field,
            code="unsupported_parameter",
        )


def _conversation(
    messages: tuple[Mapping[str, Any], ...], refuse: _Refusal
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """System blocks and the turns; consecutive turns of one role are merged, as Converse wants them
    to alternate (OpenAI sends one `tool` message per tool call, Converse one user turn of results)."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend({"text": text} for text in _texts(message.get("content"), where, refuse))
            continue
        if role == "tool":
            converse_role, blocks = "user", [_tool_result(message, where, refuse)]
        elif role == "assistant":
            if message.get("function_call") is not None:
                raise refuse(f"{where}.function_call", "use tool_calls")
            converse_role = "assistant"
            blocks = [{"text": text} for text in _texts(message.get("content"), where, refuse)]
            blocks += converse_tools.tool_uses(message.get("tool_calls"), where, refuse)
        elif role == "user":
            converse_role = "user"
            blocks = _user_blocks(message.get("content"), where, refuse)
        else:
            raise refuse(f"{where}.role", f"Converse has no {role!r} messages; use tools")
        if not blocks:
            raise refuse(f"{where}.content", "Converse needs text in every message")
        if turns and turns[-1]["role"] == converse_role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": converse_role, "content": blocks})
    if not turns or turns[0]["role"] != "user":
        raise refuse("messages", "Converse needs a user message first (after any system messages)")
    return system, turns


def _texts(content: Any, where: str, refuse: _Refusal, first: int = 0) -> list[str]:
    """The non-blank texts of a message's content (Converse refuses blank text blocks); `first`: the
    number of the first part given, for the field a refusal names."""
    if content is None:
        return []
    if isinstance(content, str):
        return [content] if content.strip() else []
    texts = []
    for number, part in enumerate(content, start=first):
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise refuse(
                f"{where}.content[{number}]", f"only text parts are supported, not {part.get('type')!r}"
            )
        if part["text"].strip():
            texts.append(part["text"])
    return texts


def _user_blocks(content: Any, where: str, refuse: _Refusal) -> list[dict[str, Any]]:
    """A user message's text and image blocks, in order (Converse refuses blank text blocks)."""
    if not isinstance(content, list):
        return [{"text": text} for text in _texts(content, where, refuse)]
    blocks: list[dict[str, Any]] = []
    for number, part in enumerate(content):
        if part.get("type") == "image_url":
            blocks.append(_image(part.get("image_url"), f"{where}.content[{number}].image_url", refuse))
        else:
            blocks.extend({"text": text} for text in _texts([part], where, refuse, first=number))
    return blocks


def _image(image_url: Any, field: str, refuse: _Refusal) -> dict[str, Any]:
    """Converse's image block, its bytes from a data: URL. An https: URL would have to be fetched, and
    the gateway never fetches a URL a caller gives it (Converse takes bytes or S3 locations only)."""
    url = image_url.get("url") if isinstance(image_url, dict) else None
    match = _IMAGE_DATA_URL.fullmatch(url) if isinstance(url, str) else None
    if match is None:
        raise refuse(
            f"{field}.url",
            "Converse takes images as data: URLs (base64 JPEG, PNG, GIF or WebP), not web URLs",
        )
    try:
        data = base64.b64decode(re.sub(r"\s", "", match.group(2)), validate=True)
    except ValueError:
        raise refuse(f"{field}.url", "the data: URL is not valid base64") from None
    return {"image": {"format": match.group(1), "source": {"bytes": data}}}


def _tool_result(message: Mapping[str, Any], where: str, refuse: _Refusal) -> dict[str, Any]:
    tool_call_id = message.get("tool_call_id")
    if not isinstance(tool_call_id, str) or not converse_tools.TOOL_USE_ID.fullmatch(tool_call_id):
        raise refuse(
            f"{where}.tool_call_id", "must be the id of an earlier tool call (letters, digits, _ . : -)"
        )
    texts = _texts(message.get("content"), where, refuse)
    # A tool may print nothing, but Converse refuses blank text: say so in words.
    content = [{"text": text} for text in texts] or [{"text": "(no output)"}]
    return {"toolResult": {"toolUseId": tool_call_id, "content": content}}


def _top_p(value: Any, refuse: _Refusal) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise refuse("top_p", "must be a number from 0 to 1")
    return float(value)


def _stop_sequences(value: Any, refuse: _Refusal) -> list[str]:
    sequences = [value] if isinstance(value, str) else value
    if not isinstance(sequences, list) or not all(isinstance(item, str) and item for item in sequences):
        raise refuse("stop", "must be a non-empty string or an array of them")
    return sequences


def _output_config(output: json_schema_output.JsonSchemaOutput) -> dict[str, Any]:
    """Converse's structured output: the schema travels as JSON text."""
    definition = {"schema": json.dumps(output.schema), "name": output.name}
    if output.description:
        definition["description"] = output.description
    return {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": definition}}}

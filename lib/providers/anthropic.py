"""Anthropic's Messages API (`POST {endpoint}/messages`): OpenAI requests translated there and back,
and Messages API requests passed through as they came (anthropic_native.py).

What has an equivalent is translated (the messages in lib/providers/anthropic_turns.py; tools,
tool_choice, stop, top_p, user and a `response_format` JSON schema here); answers and streams are
read in anthropic_replies.py. What has none is refused with a 400 naming the field and the route, so
caller input never reaches Anthropic only to be rejected there, which would become our 502. A field
sent with a value that asks for nothing (null, `logprobs: false`, a 0 penalty, `response_format:
{"type": "text"}`) is no request and is accepted, so clients that send their defaults keep working.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from lib.core.pieces import StreamPiece
from lib.core.request import ModelRequest
from lib.keys.sources import KeySource
from lib.platform.route_table import Route
from lib.providers import anthropic_native, anthropic_replies, json_mode_tool, json_schema_output
from lib.providers.anthropic_turns import conversation, refusal
from lib.providers.base import HttpProvider, ProviderContext, http_provider
from lib.providers.upstream_stream import ServerEvent

EXTRA_HEADERS: Mapping[str, str] = {"anthropic-version": "2023-06-01"}
# What rotation's testSecret calls: lists models with the same headers, spends no tokens.
KEY_CHECK_PATH = "/models"
# The Messages API has no seed (`check` refuses one): CACHE_MODE=seeded never caches this provider.
HONOURS_SEED = False

_CHAT_FIELDS = frozenset(
    {"tools", "tool_choice", "parallel_tool_calls", "stop", "top_p", "user", "response_format"}
)
_COMPLETION_FIELDS = frozenset({"stop", "top_p", "user"})
_NEUTRAL_VALUES: Mapping[str, Any] = {
    "logprobs": False,
    "top_logprobs": 0,
    "presence_penalty": 0,
    "frequency_penalty": 0,
    "logit_bias": {},
    "best_of": 1,
    "echo": False,
    "response_format": {"type": "text"},
}
_TOOL_CHOICES: Mapping[str, dict[str, Any]] = {
    "auto": {"type": "auto"},
    "none": {"type": "none"},
    "required": {"type": "any"},
}


def check(request: ModelRequest, route: Route) -> None:
    """Every refusal lives in `build`: translating the request is how we learn it can be sent."""
    build(request, route)


def build(request: ModelRequest, route: Route) -> tuple[str, dict[str, Any]]:
    if request.kind == "embeddings":
        raise refusal(route, "input", "cannot be embedded (Anthropic's API has no embeddings) by")
    if anthropic_native.passes_through(request):
        return "/messages", anthropic_native.payload(request, route)
    request = json_mode_tool.as_tool_request(request)
    payload: dict[str, Any] = {"model": route.upstream_model(request.model), "max_tokens": request.max_tokens}
    if request.kind == "chat":
        system, turns = conversation(request.messages, route)
        if system:
            payload["system"] = system
    else:
        turns = [{"role": "user", "content": [{"type": "text", "text": request.prompt}]}]
    payload["messages"] = turns
    payload.update(_options(request, route))
    return "/messages", payload


def build_stream(request: ModelRequest, route: Route) -> tuple[str, dict[str, Any]]:
    path, payload = build(request, route)
    payload["stream"] = True
    return path, payload


def parse(body: dict[str, Any], request: ModelRequest) -> dict[str, Any]:
    reply = anthropic_replies.parse(body, request)
    if anthropic_native.passes_through(request):
        return anthropic_native.with_message(reply, body)
    return json_mode_tool.as_text(reply, request)


def parse_stream(events: Iterable[ServerEvent], request: ModelRequest) -> Iterator[StreamPiece]:
    native = anthropic_native.passes_through(request)
    pieces = anthropic_replies.parse_stream(events, request, native=native)
    return pieces if native else json_mode_tool.as_text_pieces(pieces, request)


def request_headers(request: ModelRequest) -> dict[str, str]:
    """The caller's `anthropic-beta` flags, for a request passed through (the features they name)."""
    return anthropic_native.headers(request)


def auth_headers(key: str) -> dict[str, str]:
    return {"x-api-key": key}


def create(route: Route, key_source: KeySource | None, context: ProviderContext) -> HttpProvider:
    import lib.providers.anthropic as wire

    return http_provider(wire, route, key_source, context)


def _options(request: ModelRequest, route: Route) -> dict[str, Any]:
    """The top-level fields besides model, messages and max_tokens."""
    if request.seed is not None:
        raise refusal(route, "seed")
    options: dict[str, Any] = {}
    if request.temperature is not None:
        if request.temperature > 1:
            raise refusal(route, "temperature", "must be at most 1 for")
        options["temperature"] = request.temperature
    allowed = _CHAT_FIELDS if request.kind == "chat" else _COMPLETION_FIELDS
    extra = {name: value for name, value in request.extra.items() if not _asks_nothing(name, value)}
    for name in extra:
        if name not in allowed:
            raise refusal(route, name)
    top_p = extra.get("top_p")
    if top_p is not None:
        if isinstance(top_p, bool) or not isinstance(top_p, int | float) or not 0 <= top_p <= 1:
            raise refusal(route, "top_p", "must be a number from 0 to 1 for")
        options["top_p"] = top_p
    stop = extra.get("stop")
    if stop is not None:
        sequences = [stop] if isinstance(stop, str) else stop
        if not isinstance(sequences, list) or not all(isinstance(item, str) for item in sequences):
            raise refusal(route, "stop", "must be a string or an array of strings for")
        if any(sequences):
            options["stop_sequences"] = [item for item in sequences if item]
    user = extra.get("user")
    if user is not None:
        if not isinstance(user, str):
            raise refusal(route, "user", "must be a string for")
        options["metadata"] = {"user_id": user}
    if "tools" in extra:
        options["tools"] = _tools(extra["tools"], route)
    tool_choice = _tool_choice(extra, route)
    if tool_choice is not None:
        options["tool_choice"] = tool_choice
    output = json_schema_output.requested(
        extra.get("response_format"), lambda field, reason: refusal(route, field, f"{reason} on")
    )
    if output is not None:
        # Anthropic's structured outputs: the text block is constrained to the schema (no name there).
        options["output_config"] = {"format": {"type": "json_schema", "schema": output.schema}}
    return options


def _asks_nothing(name: str, value: Any) -> bool:
    return value is None or (name in _NEUTRAL_VALUES and value == _NEUTRAL_VALUES[name])


def _tools(tools: Any, route: Route) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise refusal(route, "tools", "must be an array of function tools for")
    converted = []
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
            raise refusal(route, where, 'must be {"type": "function", "function": {...}} for')
        name, description = function.get("name"), function.get("description")
        schema = function.get("parameters", {"type": "object", "properties": {}})
        if not isinstance(name, str) or not name:
            raise refusal(route, f"{where}.function.name", "must be a non-empty string for")
        if not isinstance(schema, dict):
            raise refusal(route, f"{where}.function.parameters", "must be a JSON Schema object for")
        entry: dict[str, Any] = {"name": name, "input_schema": schema}
        if isinstance(description, str) and description:
            entry["description"] = description
        converted.append(entry)
    return converted


def _tool_choice(extra: Mapping[str, Any], route: Route) -> dict[str, Any] | None:
    choice, parallel = extra.get("tool_choice"), extra.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise refusal(route, "parallel_tool_calls", "must be true or false for")
    mapped: dict[str, Any] | None
    if choice is None:
        mapped = {"type": "auto"} if parallel is False and extra.get("tools") else None
    elif isinstance(choice, str) and choice in _TOOL_CHOICES:
        mapped = dict(_TOOL_CHOICES[choice])
    elif (
        isinstance(choice, dict)
        and choice.get("type") == "function"
        and isinstance(choice.get("function"), dict)
        and isinstance(choice["function"].get("name"), str)
    ):
        mapped = {"type": "tool", "name": choice["function"]["name"]}
    else:
        raise refusal(
            route, "tool_choice", 'must be "auto", "none", "required" or {"type": "function", ...} for'
        )
    if mapped is None or (mapped["type"] == "none" and not extra.get("tools")):
        return None
    if not extra.get("tools"):
        raise refusal(route, "tool_choice", "needs tools for")
    if parallel is False and mapped["type"] != "none":
        mapped["disable_parallel_tool_use"] = True
    return mapped

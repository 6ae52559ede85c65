"""A Messages API request on an `anthropic` route, passed through: the caller's own body goes to
Anthropic as it came (thinking, `cache_control`, citations, documents, server tools and any field
Anthropic adds later), with the fields the gateway decides set from the validated request (model,
max_tokens, temperature, stream), and the caller's `anthropic-beta` header beside it. Anthropic's
message comes back whole (under the answer's `NATIVE_REPLY`), as do its stream's events (each
piece's `native`); the OpenAI-shaped answer beside them is what budgets, the cache and logs read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lib.core.request import ANTHROPIC_MESSAGES, NATIVE_REPLY, ModelRequest
from lib.platform.route_table import Route

# The fields of Anthropic's message object, the only ones handed to the caller (an upstream, or a
# proxy in front of it, that echoes the request in a field of its own must not hand the key back).
MESSAGE_FIELDS = (
    "id",
    "type",
    "role",
    "content",
    "model",
    "stop_reason",
    "stop_sequence",
    "stop_details",
    "usage",
    "container",
    "context_management",
)


def passes_through(request: ModelRequest) -> bool:
    return request.native is not None and request.native.api == ANTHROPIC_MESSAGES


def payload(request: ModelRequest, route: Route) -> dict[str, Any]:
    assert request.native is not None
    sent: dict[str, Any] = {
        **request.native.body,
        "model": route.upstream_model(request.model),
        "max_tokens": request.max_tokens,
    }
    if request.temperature is not None:
        sent["temperature"] = request.temperature  # the clamp policy's, when it moved the caller's
    return sent


def headers(request: ModelRequest) -> dict[str, str]:
    return dict(request.native.headers) if request.native is not None else {}


def with_message(reply: dict[str, Any], message: Mapping[str, Any]) -> dict[str, Any]:
    """The OpenAI-shaped `reply`, with Anthropic's own message beside it for the Messages API's caller."""
    reply[NATIVE_REPLY] = {name: message[name] for name in MESSAGE_FIELDS if name in message}
    return reply

"""OpenAI's wire format, spoken by most providers (DeepSeek, Qwen, GLM, Moonshot, Gemini, Groq,
OpenRouter, Ollama, ...): the request is passed on with the route's model, the answer is already ours."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lib.errors import UpstreamError
from lib.providers.base import HttpProvider, ProviderContext, http_provider
from lib.route_table import Route
from lib.upstream import KeySource, bearer_auth
from lib.validation import ModelRequest

EXTRA_HEADERS: Mapping[str, str] = {}
# What rotation's testSecret calls: lists models, spends no tokens.
KEY_CHECK_PATH = "/models"


def check(request: ModelRequest, route: Route) -> None:
    """Every field an OpenAI-compatible API takes is passed on."""


def build(request: ModelRequest, route: Route) -> tuple[str, dict[str, Any]]:
    payload = request.upstream_payload()
    payload["model"] = route.upstream_model(request.model)
    return request.upstream_path(), payload


def parse(body: dict[str, Any], request: ModelRequest) -> dict[str, Any]:
    if not isinstance(body.get("choices"), list) or not body["choices"]:
        # Some providers answer 200 with {"error": ...}: that is no completion.
        raise UpstreamError("the model API answered without any completion choices")
    return body


def auth_headers(key: str) -> dict[str, str]:
    return bearer_auth(key)


def create(route: Route, key_source: KeySource | None, context: ProviderContext) -> HttpProvider:
    import lib.providers.openai as wire

    return http_provider(wire, route, key_source, context)

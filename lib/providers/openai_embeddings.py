"""Embeddings from an OpenAI-compatible API (`POST {endpoint}/embeddings`): the caller's request passed
on with the route's model, the answer checked and read as the neutral answer (its usage counted as
prompt tokens; an embedding writes none)."""

from __future__ import annotations

from typing import Any

from lib.core.request import ModelRequest
from lib.platform.errors import UpstreamError
from lib.platform.route_table import Route


def build(request: ModelRequest, route: Route) -> tuple[str, dict[str, Any]]:
    return "/embeddings", {**request.extra, "model": route.upstream_model(request.model)}


def parse(body: dict[str, Any], request: ModelRequest) -> dict[str, Any]:
    data = body.get("data")
    if not isinstance(data, list) or not all(
        isinstance(item, dict) and isinstance(item.get("embedding"), list | str) for item in data
    ):
        # Some providers answer 200 with {"error": ...}: that is no list of embeddings.
        raise UpstreamError("the model API answered without a list of embeddings")
    usage = body.get("usage")
    if isinstance(usage, dict) and "completion_tokens" not in usage:
        body = {**body, "usage": {**usage, "completion_tokens": 0}}
    return body

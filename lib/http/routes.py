"""The HTTP routes of OpenAI's chat and legacy completions, the model list, `/api/generate` (and its
batch), `/v1/usage`, `/health`, `/` and `/openapi.json`. The other APIs' routes have modules of their
own (messages_routes, responses_routes, embeddings_routes); all run the stages of route_stages.py.

Each model route parses, identifies the caller, admits it, calls the model, shapes the reply, in this
order: caller (401 before anything about the body is revealed), body and validation (4xx), limits
(429), upstream call (502/504), usage settlement, reply.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from lib.apis.anthropic_messages_errors import speaks_messages_api
from lib.apis.anthropic_messages_reply import model_info, models_page
from lib.apis.generate import generate_reply, parse_generate
from lib.apis.openai_replies import model_entries, models_reply, openai_reply
from lib.apis.openai_requests import parse_chat, parse_completion
from lib.callers.identity import Caller
from lib.core.request import ModelRequest
from lib.http.route_stages import ALLOWED_METHODS, RouteStages
from lib.platform.config import LAMBDA_MAX_PAYLOAD_BYTES
from lib.platform.errors import NotConfigured, NotFound
from lib.providers.call_stats import CallStats
from lib.stages.context import Services

router = APIGatewayHttpRouter()
stages = RouteStages(router)
# Written by `make openapi` (tools/openapi.py) and packaged with lib/: serving it imports no pydantic.
OPENAPI_FILE = Path(__file__).with_name("openapi.json")


@stages.route("GET", "/")
def index() -> dict[str, Any]:
    """What this is and where to go next; no caller check, it says nothing a stranger may not know."""
    return {
        "name": "modelgate",
        "about": "A gateway to AI model APIs that speaks the OpenAI API: point an OpenAI client's "
        "base_url at this address plus /v1.",
        "openai_base_url": "/v1",
        "endpoints": sorted(
            f"{method} {rule.replace('<', '{').replace('>', '}')}"
            for rule, methods in ALLOWED_METHODS.items()
            for method in methods - {"HEAD"}
        ),
        "docs": "docs/api.md and docs/configuration.md of the modelgate repository (README.md maps all)",
    }


@stages.route("GET", "/health")
def health() -> dict[str, Any]:
    services = stages.begin()
    if not services.routes.from_file and not services.settings.model_endpoint:
        raise NotConfigured("the model API is not configured: set AI_MODEL_ENDPOINT or ROUTES_FILE")
    return {
        "status": "ok",
        "auth_mode": services.settings.auth_mode,
        "limits": services.limiter.enabled,
        "routes": services.routes.names if services.routes.from_file else None,
    }


@stages.route("GET", "/openapi.json")
def openapi_document() -> Response:
    """The OpenAPI document of these routes, request bodies and error shape included (no caller needed)."""
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=_openapi_text())


@functools.cache
def _openapi_text() -> str:
    return OPENAPI_FILE.read_text(encoding="utf-8")


@stages.route("POST", "/api/generate")
def generate() -> dict[str, Any]:
    services = stages.begin()
    caller = stages.identify(services)
    request = parse_generate(stages.json_body(services), services.settings)
    body, usage = stages.complete(request, caller, services)
    return generate_reply(body, request, usage)


@stages.route("POST", "/api/generate/batch")
def generate_batch() -> dict[str, Any]:
    from lib.apis.generate_batch import (  # on use: a cold start rarely serves a batch first
        batch_items,
        run_batch,
    )

    services = stages.begin()
    caller = stages.identify(services)
    settings = services.settings
    # Each item may be as large as a single request's body.
    max_bytes = min(settings.max_body_bytes * settings.batch_max_items, LAMBDA_MAX_PAYLOAD_BYTES)
    items = batch_items(stages.json_body(services, max_bytes), settings.batch_max_items)
    record = stages.record()
    record.batch = (router.current_event.get("requestContext") or {}).get("requestId")  # else a new id
    deadline = stages.deadline(services)
    return run_batch(items, caller, services, record, deadline, refresh_cache=stages.refresh_cache())


@stages.route("POST", "/v1/chat/completions")
def chat_completions() -> Any:
    services = stages.begin()
    caller = stages.identify(services)
    request = parse_chat(stages.json_body(services), services.settings)
    return _openai_answer(request, caller, services)


@stages.route("POST", "/v1/completions")
def completions() -> Any:
    services = stages.begin()
    caller = stages.identify(services)
    request = parse_completion(stages.json_body(services), services.settings)
    return _openai_answer(request, caller, services)


@stages.route("GET", "/v1/models")
def list_models() -> dict[str, Any]:
    entries = _served_models(stages.begin())
    return models_page(entries) if _in_anthropic_shape() else models_reply(entries)


@stages.route("GET", "/v1/models/<model_id>")
def retrieve_model(model_id: str) -> dict[str, Any]:
    services = stages.begin()
    wanted = unquote(model_id)
    for entry in _served_models(services):
        if entry["id"] == wanted:
            return model_info(entry) if _in_anthropic_shape() else entry
    raise NotFound(
        f"the model {wanted!r} is not served here (GET /v1/models lists them)", code="model_not_found"
    )


def _served_models(services: Services) -> list[dict[str, Any]]:
    """The models a caller may ask for, in OpenAI's full entry shape."""
    stages.admit(services)  # listing costs no tokens, but counts as a request
    if services.routes.from_file:
        return model_entries({"data": list(services.routes.names)})
    upstream = services.upstream
    if upstream is None:  # unreachable: the single-model route is always an HTTP provider
        raise NotConfigured("the model list is not available")
    stats = stages.record().upstream = CallStats()
    return model_entries(upstream.call("GET", "/models", None, stages.deadline(services), stats))


@stages.route("GET", "/v1/usage")
def usage() -> dict[str, Any]:
    services = stages.begin()
    return services.limiter.usage(stages.identify(services))


def _openai_answer(request: ModelRequest, caller: Caller, services: Services) -> Any:
    if request.stream:
        from lib.apis import openai_stream  # on use: most requests are not streams

        return stages.streamed(openai_stream, request, caller, services)
    body, usage = stages.complete(request, caller, services)
    return openai_reply(body, request, usage)


def _in_anthropic_shape() -> bool:
    """A request the anthropic SDK sent (it always sends `anthropic-version`) to a path both APIs share."""
    event = router.current_event
    return speaks_messages_api(event.path, event.headers or {})

"""The HTTP routes. Each one parses, identifies the caller, admits it, calls the model, shapes the reply.

Stages run in this order: caller (401 before anything about the body is revealed), body and
validation (4xx), limits (429), upstream call (502/504), usage settlement, reply.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
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
from lib.http.events import seconds_since_arrival
from lib.platform.config import LAMBDA_MAX_PAYLOAD_BYTES
from lib.platform.deadline import Deadline
from lib.platform.errors import NotConfigured, NotFound
from lib.providers.call_stats import CallStats
from lib.services import get_services
from lib.stages.cache import CacheDirectives, cache_directives
from lib.stages.completion import complete
from lib.stages.context import Services
from lib.stages.request_body import parse_json_body
from lib.stages.telemetry import RequestRecord

if TYPE_CHECKING:
    from lib.stages.streaming import StreamFormat

router = APIGatewayHttpRouter()

# Path rule -> methods it answers, so that a wrong method is a 405 and not a 404.
ALLOWED_METHODS: dict[str, set[str]] = {}
# Written by `make openapi` (tools/openapi.py) and packaged with lib/: serving it imports no pydantic.
OPENAPI_FILE = Path(__file__).with_name("openapi.json")
# Time kept back from the Lambda's remaining time for settling usage and answering.
LAMBDA_SAFETY_MARGIN_S = 1.0
# API Gateway cuts an HTTP API integration 30 s after the request arrived, a cold start included, and
# answers a bare 503; the gateway's own 504 must reach the caller first. The answer budget is counted
# from the arrival (requestContext.timeEpoch), and the upstream deadline ends a margin before it, for
# the settle write and the reply. The Function URL has no such limit, but the same budget keeps both alike.
ARRIVAL_LIMIT_S = 30.0
ANSWER_MARGIN_S = 2.5


def _route(method: str, path: str, on: APIGatewayHttpRouter = router) -> Any:
    """Register a route (on this module's router, or on an area's own: lib/http/messages_routes.py,
    lib/http/responses_routes.py)."""
    # HEAD is answered wherever GET is (same handler; the HTTP layer sends no body for HEAD).
    methods = [method, "HEAD"] if method == "GET" else [method]
    ALLOWED_METHODS.setdefault(path, set()).update(methods)
    return on.route(path, methods)


def allowed_methods(path: str) -> set[str]:
    """The methods some route answers on `path` (rules with `<param>` parts included)."""
    for rule, methods in ALLOWED_METHODS.items():
        if re.fullmatch(re.sub(r"<\w+>", "[^/]+", rule), path):
            return methods
    return set()


@_route("GET", "/")
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


@_route("GET", "/health")
def health() -> dict[str, Any]:
    services = _begin()
    if not services.routes.from_file and not services.settings.model_endpoint:
        raise NotConfigured("the model API is not configured: set AI_MODEL_ENDPOINT or ROUTES_FILE")
    return {
        "status": "ok",
        "auth_mode": services.settings.auth_mode,
        "limits": services.limiter.enabled,
        "routes": services.routes.names if services.routes.from_file else None,
    }


@_route("GET", "/openapi.json")
def openapi_document() -> Response:
    """The OpenAPI document of these routes, request bodies and error shape included (no caller needed)."""
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=_openapi_text())


@functools.cache
def _openapi_text() -> str:
    return OPENAPI_FILE.read_text(encoding="utf-8")


@_route("POST", "/api/generate")
def generate() -> dict[str, Any]:
    services = _begin()
    caller = _identify(services)
    request = parse_generate(_json_body(services), services.settings)
    body, usage = complete(
        request, caller, services, _record(), _deadline(services), refresh_cache=_refresh_cache()
    )
    return generate_reply(body, request, usage)


@_route("POST", "/api/generate/batch")
def generate_batch() -> dict[str, Any]:
    from lib.apis.generate_batch import (  # on use: a cold start rarely serves a batch first
        batch_items,
        run_batch,
    )

    services = _begin()
    caller = _identify(services)
    settings = services.settings
    # Each item may be as large as a single request's body.
    max_bytes = min(settings.max_body_bytes * settings.batch_max_items, LAMBDA_MAX_PAYLOAD_BYTES)
    items = batch_items(_json_body(services, max_bytes), settings.batch_max_items)
    record = _record()
    record.batch = (router.current_event.get("requestContext") or {}).get("requestId")  # else a new id
    return run_batch(items, caller, services, record, _deadline(services), refresh_cache=_refresh_cache())


@_route("POST", "/v1/chat/completions")
def chat_completions() -> Any:
    services = _begin()
    caller = _identify(services)
    request = parse_chat(_json_body(services), services.settings)
    return _openai_answer(request, caller, services)


@_route("POST", "/v1/completions")
def completions() -> Any:
    services = _begin()
    caller = _identify(services)
    request = parse_completion(_json_body(services), services.settings)
    return _openai_answer(request, caller, services)


@_route("GET", "/v1/models")
def list_models() -> dict[str, Any]:
    entries = _served_models(_begin())
    return models_page(entries) if _in_anthropic_shape() else models_reply(entries)


@_route("GET", "/v1/models/<model_id>")
def retrieve_model(model_id: str) -> dict[str, Any]:
    services = _begin()
    wanted = unquote(model_id)
    for entry in _served_models(services):
        if entry["id"] == wanted:
            return model_info(entry) if _in_anthropic_shape() else entry
    raise NotFound(
        f"the model {wanted!r} is not served here (GET /v1/models lists them)", code="model_not_found"
    )


def _served_models(services: Services) -> list[dict[str, Any]]:
    """The models a caller may ask for, in OpenAI's full entry shape."""
    caller = _identify(services)
    services.limiter.admit(caller, reserve_tokens=0)  # listing costs no tokens, but counts as a request
    if services.routes.from_file:
        return model_entries({"data": list(services.routes.names)})
    upstream = services.upstream
    if upstream is None:  # unreachable: the single-model route is always an HTTP provider
        raise NotConfigured("the model list is not available")
    stats = _record().upstream = CallStats()
    return model_entries(upstream.call("GET", "/models", None, _deadline(services), stats))


@_route("GET", "/v1/usage")
def usage() -> dict[str, Any]:
    services = _begin()
    return services.limiter.usage(_identify(services))


def _openai_answer(request: ModelRequest, caller: Caller, services: Services) -> Any:
    if request.stream:
        from lib.apis import openai_stream  # on use: most requests are not streams

        return _streamed(openai_stream, request, caller, services)
    body, usage = complete(
        request, caller, services, _record(), _deadline(services), refresh_cache=_refresh_cache()
    )
    return openai_reply(body, request, usage)


def _streamed(
    stream_format: StreamFormat, request: ModelRequest, caller: Caller, services: Services
) -> Response:
    """A `text/event-stream` answer in the caller's format, written by the gateway core as the model
    writes it (lib/http/gateway.py)."""
    from lib.stages.streaming import open_stream

    record = _record()
    record.stream_body = open_stream(
        stream_format,
        request,
        caller,
        services,
        record,
        _deadline(services),
        _lambda_remaining_s(),
        refresh_cache=_refresh_cache(),
    )
    return Response(
        status_code=200,
        content_type="text/event-stream",
        body="",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _in_anthropic_shape() -> bool:
    """A request the anthropic SDK sent (it always sends `anthropic-version`) to a path both APIs share."""
    event = router.current_event
    return speaks_messages_api(event.path, event.headers or {})


def _begin() -> Services:
    services = get_services()
    _record().settings = services.settings
    return services


def _identify(services: Services) -> Caller:
    event = router.current_event
    source_ip = event.request_context.http.source_ip if event.get("requestContext") else None
    caller = services.callers.identify(event.headers or {}, source_ip)
    _record().caller_id = caller.caller_id
    return caller


def _json_body(services: Services, max_bytes: int | None = None) -> dict[str, Any]:
    event = router.current_event
    return parse_json_body(
        event.body,
        bool(event.is_base64_encoded),
        max_bytes or services.settings.max_body_bytes,
        declared_bytes=(event.headers or {}).get("content-length"),
    )


def _refresh_cache() -> CacheDirectives:
    return cache_directives(router.current_event.headers or {})


def _deadline(services: Services) -> Deadline:
    """AI_MODEL_TIMEOUT_S, but never past the platform's limits: the answer budget counted from the
    request's arrival, or the Lambda's own remaining time (which does not count its init), less margins."""
    seconds = min(services.settings.timeout_s, ARRIVAL_LIMIT_S - ANSWER_MARGIN_S - _since_arrival())
    lambda_remaining_s = _lambda_remaining_s()
    if lambda_remaining_s is not None:
        seconds = min(seconds, lambda_remaining_s)
    return Deadline(max(seconds, 0.0))


def _lambda_remaining_s() -> float | None:
    """The function's remaining time less the safety margin (None outside Lambda)."""
    remaining_ms = getattr(router.lambda_context, "get_remaining_time_in_millis", None)
    return remaining_ms() / 1000 - LAMBDA_SAFETY_MARGIN_S if callable(remaining_ms) else None


def _since_arrival() -> float:
    return seconds_since_arrival(router.current_event.raw_event, ARRIVAL_LIMIT_S)


def _record() -> RequestRecord:
    record: RequestRecord = router.context["record"]
    return record

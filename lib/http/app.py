"""The API resolver: routes plus one exception handler per error family, each error in the shape of the
API the request speaks (lib/apis/error_formats.py: Anthropic's for the Messages API, else OpenAI's)."""

from __future__ import annotations

import functools
import json

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import (
    APIGatewayHttpResolver,
    CORSConfig,
    Response,
    content_types,
)
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from lib import services
from lib.apis.error_formats import error_body
from lib.http import embeddings_routes, messages_routes, responses_routes, routes
from lib.http.route_stages import NOT_SERVED, allowed_methods
from lib.platform.errors import GatewayError, MethodNotAllowed, NotConfigured, NotFound
from lib.stages.telemetry import CACHE_HEADER, TEMPERATURE_CLAMPED_HEADER, UPSTREAM_MODEL_HEADER

logger = Logger(child=True)

# What browser OpenAI clients send (the SDKs add x-stainless-* to every request) and what they may read.
# The openai and anthropic SDKs' own headers too, so either SDK works from a browser (the anthropic one
# sends anthropic-dangerous-direct-browser-access there).
CORS_ALLOW_HEADERS = (
    "authorization",
    "content-type",
    "x-api-key",
    "anthropic-version",
    "anthropic-beta",
    "anthropic-dangerous-direct-browser-access",
    "x-stainless-arch",
    "x-stainless-async",
    "x-stainless-helper-method",
    "x-stainless-lang",
    "x-stainless-os",
    "x-stainless-package-version",
    "x-stainless-poll-helper",
    "x-stainless-read-timeout",
    "x-stainless-retry-count",
    "x-stainless-runtime",
    "x-stainless-runtime-version",
    "x-stainless-timeout",
)
_POWERTOOLS_ALLOWED = frozenset({"authorization", "content-type", "x-api-key"})
CORS_EXPOSE_HEADERS = ("retry-after", CACHE_HEADER, TEMPERATURE_CLAMPED_HEADER.lower(), UPSTREAM_MODEL_HEADER)
CORS_MAX_AGE_S = 600

_current: tuple[tuple[str, ...], APIGatewayHttpResolver] | None = None


def get_app() -> APIGatewayHttpResolver:
    """The container's resolver, built for the configured CORS origins (powertools fixes CORS per app)."""
    global _current
    origins = _configured_origins()
    if _current is None or _current[0] != origins:
        _current = (origins, create_app(origins))
    return _current[1]


def create_app(cors_origins: tuple[str, ...] = ()) -> APIGatewayHttpResolver:
    # UTF-8 as is, not \\uXXXX escapes: CJK answers stay half the size (Lambda caps a response at 6 MB).
    cors = cors_config(cors_origins)
    app = APIGatewayHttpResolver(
        serializer=functools.partial(json.dumps, separators=(",", ":"), ensure_ascii=False), cors=cors
    )

    def gateway_headers(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response:
        response = next_middleware(app)
        # Powertools answers every OPTIONS with the allowed methods; an origin we do not allow (or a
        # request that is no preflight at all) gets no CORS header of any kind.
        if cors is not None and "Access-Control-Allow-Methods" in response.headers:
            origin = (app.current_event.headers or {}).get("origin")
            if not origin or cors.allowed_origin(origin) is None:
                del response.headers["Access-Control-Allow-Methods"]
        return response

    app.use(middlewares=[gateway_headers])
    app.include_router(routes.router)
    app.include_router(messages_routes.router)
    app.include_router(embeddings_routes.router)
    app.include_router(responses_routes.router)

    @app.exception_handler(GatewayError)
    def gateway_error(error: GatewayError) -> Response:
        app.context["record"].fail(error.outcome, error.code)
        return _error_response(app, error)

    @app.not_found
    def not_found(_: NotFoundError) -> Response:
        event = app.current_event
        allowed = allowed_methods(event.path)
        error: GatewayError
        not_served = NOT_SERVED.get((event.http_method, event.path))
        if not_served:
            allowed = set()
            error = NotFound(
                f"{event.http_method} {event.path} is not served: {not_served}", code="not_served"
            )
        elif allowed:
            error = MethodNotAllowed(
                f"{event.http_method} is not allowed on {event.path}; use {', '.join(sorted(allowed))}"
            )
        elif allowed_methods(f"/v1{event.path}"):
            # The most common set-up slip: an SDK's base_url without its /v1.
            error = NotFound(
                f"no route {event.http_method} {event.path}; did you mean /v1{event.path}? "
                "(a client's base URL ends in /v1)"
            )
        else:
            error = NotFound(f"no route {event.http_method} {event.path}")
        app.context["record"].fail(error.outcome, error.code)
        response = _error_response(app, error)
        if allowed:
            response.headers["Allow"] = ", ".join(sorted(allowed))
        return response

    @app.exception_handler(Exception)
    def unexpected_error(error: Exception) -> Response:
        # A bug of ours, never the caller's input: log the type and traceback, answer without details.
        logger.exception("unhandled error", extra={"error_type": type(error).__name__})
        return _error_response(app, GatewayError("internal error; the request id is in the logs"))

    return app


def cors_config(origins: tuple[str, ...]) -> CORSConfig | None:
    """CORS_ALLOW_ORIGINS as powertools' CORSConfig; None (CORS off) when no origin is configured."""
    if not origins:
        return None
    return CORSConfig(
        allow_origin=origins[0],
        extra_origins=list(origins[1:]),
        # Powertools always allows Authorization, Content-Type and X-Api-Key itself.
        allow_headers=[name for name in CORS_ALLOW_HEADERS if name not in _POWERTOOLS_ALLOWED],
        expose_headers=list(CORS_EXPOSE_HEADERS),
        max_age=CORS_MAX_AGE_S,
    )


def _configured_origins() -> tuple[str, ...]:
    try:
        return services.get_services().settings.cors_allow_origins
    except NotConfigured:
        return ()  # the request itself then answers the 503 that names the variable


def _error_response(app: APIGatewayHttpResolver, error: GatewayError) -> Response:
    event = app.current_event
    return Response(
        status_code=error.status,
        content_type=content_types.APPLICATION_JSON,
        body=error_body(error, event.path, event.headers or {}),
        headers=error.headers(),
    )

"""The API resolver: routes plus one exception handler per error family, in OpenAI's error shape."""

from __future__ import annotations

import functools
import json

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from lib import routes
from lib.errors import GatewayError, MethodNotAllowed, NotFound

logger = Logger(child=True)


def create_app() -> APIGatewayHttpResolver:
    # UTF-8 as is, not \\uXXXX escapes: CJK answers stay half the size (Lambda caps a response at 6 MB).
    app = APIGatewayHttpResolver(
        serializer=functools.partial(json.dumps, separators=(",", ":"), ensure_ascii=False)
    )
    app.include_router(routes.router)

    @app.exception_handler(GatewayError)
    def gateway_error(error: GatewayError) -> Response:
        app.context["record"].fail(error.outcome, error.code)
        return _error_response(error)

    @app.not_found
    def not_found(_: NotFoundError) -> Response:
        event = app.current_event
        allowed = routes.ALLOWED_METHODS.get(event.path)
        error: GatewayError
        if allowed:
            error = MethodNotAllowed(
                f"{event.http_method} is not allowed on {event.path}; use {', '.join(sorted(allowed))}"
            )
        else:
            error = NotFound(f"no route {event.http_method} {event.path}")
        app.context["record"].fail(error.outcome, error.code)
        response = _error_response(error)
        if allowed:
            response.headers["Allow"] = ", ".join(sorted(allowed))
        return response

    @app.exception_handler(Exception)
    def unexpected_error(error: Exception) -> Response:
        # A bug of ours, never the caller's input: log the type and traceback, answer without details.
        logger.exception("unhandled error", extra={"error_type": type(error).__name__})
        return _error_response(GatewayError("internal error; the request id is in the logs"))

    return app


def _error_response(error: GatewayError) -> Response:
    return Response(
        status_code=error.status,
        content_type=content_types.APPLICATION_JSON,
        body=error.body(),
        headers=error.headers(),
    )

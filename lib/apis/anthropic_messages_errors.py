"""Errors in the Messages API's shape, `{"type": "error", "error": {"type", "message"}}`, with
Anthropic's error type for each status, so the `anthropic` SDK raises its own classes (it picks them
by status: BadRequestError, AuthenticationError, NotFoundError, RateLimitError, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lib.platform.errors import GatewayError, RouteUnavailable, StoreUnavailable, UpstreamTimeout

_TYPES_BY_STATUS: Mapping[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
}
# The routes are failing, or the table is: Anthropic's word for "try again shortly".
_OVERLOADED = (RouteUnavailable, StoreUnavailable)


def speaks_messages_api(path: str, headers: Mapping[str, str]) -> bool:
    """A Messages API path, or a path the two APIs share (the model list) asked with `anthropic-version`,
    which the anthropic SDK always sends."""
    if path == "/v1/messages" or path.startswith("/v1/messages/"):
        return True
    return path.startswith("/v1/models") and any(name.lower() == "anthropic-version" for name in headers)


def error_type(error: GatewayError) -> str:
    if isinstance(error, UpstreamTimeout):
        return "timeout_error"
    if isinstance(error, _OVERLOADED):
        return "overloaded_error"
    return _TYPES_BY_STATUS.get(error.status, "api_error")


def error_body(error: GatewayError) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type(error), "message": error.message}}

"""The gateway's error family. Logic raises these; one exception handler turns them into responses.

Each class carries the HTTP status, OpenAI's error `type` (so the official SDKs raise their matching
exception class), a default `code`, and the `outcome` name used by metrics and the access log.
Messages are written for the caller: never a provider key, a raw upstream body or a stack trace.
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    status = 500
    error_type = "server_error"
    code: str | None = "internal_error"
    outcome = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after_s: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.retry_after_s = retry_after_s

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "code": self.code,
                "param": self.param,
            }
        }

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)} if self.retry_after_s is not None else {}


class InvalidRequest(GatewayError):
    status = 400
    error_type = "invalid_request_error"
    code = "invalid_request"
    outcome = "input_rejected"


class Unauthorized(GatewayError):
    status = 401
    error_type = "authentication_error"
    code = "invalid_api_key"
    outcome = "auth_failed"


class NotFound(GatewayError):
    status = 404
    error_type = "invalid_request_error"
    code = "not_found"
    outcome = "input_rejected"


class MethodNotAllowed(GatewayError):
    status = 405
    error_type = "invalid_request_error"
    code = "method_not_allowed"
    outcome = "input_rejected"


class PayloadTooLarge(GatewayError):
    status = 413
    error_type = "invalid_request_error"
    code = "request_too_large"
    outcome = "input_rejected"


class RateLimited(GatewayError):
    status = 429
    error_type = "rate_limit_error"
    code = "rate_limit_exceeded"
    outcome = "rate_limited"


class BudgetExceeded(GatewayError):
    status = 429
    error_type = "insufficient_quota"
    code = "budget_exceeded"
    outcome = "budget_exceeded"


class FreeQuotaExhausted(GatewayError):
    status = 429
    error_type = "insufficient_quota"
    code = "free_quota_exhausted"
    outcome = "quota_exhausted"


class UpstreamError(GatewayError):
    status = 502
    error_type = "api_error"
    code = "upstream_error"
    outcome = "upstream_error"


class UpstreamRejected(UpstreamError):
    """The model API refused the request itself (HTTP 400, 404, 413 or 422: an unknown model, too long a
    context, a parameter it does not take). The caller's to change, so a 400, and not the route's health:
    the circuit breaker does not count it, and the Errors metric (which the alarm watches) neither."""

    status = 400
    error_type = "invalid_request_error"
    code = "upstream_rejected"
    outcome = "input_rejected"


class NotConfigured(GatewayError):
    status = 503
    error_type = "server_error"
    code = "not_configured"
    outcome = "not_configured"


class RouteUnavailable(GatewayError):
    """Every route that could serve has its circuit breaker open."""

    status = 503
    error_type = "server_error"
    code = "route_unavailable"
    outcome = "upstream_error"


class StoreUnavailable(GatewayError):
    status = 503
    error_type = "server_error"
    code = "store_unavailable"
    outcome = "store_error"


class UpstreamTimeout(GatewayError):
    status = 504
    error_type = "timeout"
    code = "upstream_timeout"
    outcome = "upstream_timeout"

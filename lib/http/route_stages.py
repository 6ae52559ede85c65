"""The request stages every HTTP route shares, whatever API it speaks (lib/http/routes.py,
messages_routes.py, responses_routes.py, embeddings_routes.py): registering the route, the services,
the caller (admitted at once where it spends no tokens), the JSON body, the cache directives, the
deadline, a whole answer, a streamed answer, the access record.

Each area's module makes one `RouteStages` for its own router. Every router included in the app
reads the request being resolved from it, so the stages read the same request whichever area runs.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from lib.callers.identity import Caller
from lib.core.answer import Usage
from lib.core.request import ModelRequest
from lib.http.events import seconds_since_arrival
from lib.platform.deadline import Deadline
from lib.services import get_services
from lib.stages.cache import CacheDirectives, cache_directives
from lib.stages.completion import complete
from lib.stages.context import Services
from lib.stages.request_body import parse_json_body
from lib.stages.telemetry import RequestRecord

if TYPE_CHECKING:
    from lib.stages.streaming import StreamFormat

# Path rule -> methods it answers (every area's routes), so that a wrong method is a 405 and not a 404.
ALLOWED_METHODS: dict[str, set[str]] = {}
# Time kept back from the Lambda's remaining time for settling usage and answering.
LAMBDA_SAFETY_MARGIN_S = 1.0
# API Gateway cuts an HTTP API integration 30 s after the request arrived, a cold start included, and
# answers a bare 503; the gateway's own 504 must reach the caller first. The answer budget is counted
# from the arrival (requestContext.timeEpoch), and the upstream deadline ends a margin before it, for
# the settle write and the reply. The Function URL has no such limit, but the same budget keeps both alike.
ARRIVAL_LIMIT_S = 30.0
ANSWER_MARGIN_S = 2.5


# (method, path) -> why an endpoint of the APIs the gateway speaks is not served, for its 404.
NOT_SERVED: dict[tuple[str, str], str] = {}


def allowed_methods(path: str) -> set[str]:
    """The methods some route answers on `path` (rules with `<param>` parts included)."""
    for rule, methods in ALLOWED_METHODS.items():
        if re.fullmatch(re.sub(r"<\w+>", "[^/]+", rule), path):
            return methods
    return set()


class RouteStages:
    """The shared stages, reading the request being resolved through one area's router."""

    def __init__(self, router: APIGatewayHttpRouter) -> None:
        self.router = router

    def not_served(self, method: str, path: str, reason: str) -> None:
        """An endpoint of an API the gateway speaks that it does not serve: a 404 that says why."""
        NOT_SERVED[(method, path)] = reason

    def route(self, method: str, path: str) -> Any:
        """Register a route on this area's router, and its methods in ALLOWED_METHODS."""
        # HEAD is answered wherever GET is (same handler; the HTTP layer sends no body for HEAD).
        methods = [method, "HEAD"] if method == "GET" else [method]
        ALLOWED_METHODS.setdefault(path, set()).update(methods)
        return self.router.route(path, methods)

    def begin(self) -> Services:
        """The container's services (a 503 naming the variable when misconfigured), noted in the record."""
        services = get_services()
        self.record().settings = services.settings
        return services

    def identify(self, services: Services) -> Caller:
        """Who calls (a client key, or the source IP): a 401 before anything about the body is revealed."""
        event = self.router.current_event
        source_ip = event.request_context.http.source_ip if event.get("requestContext") else None
        caller = services.callers.identify(event.headers or {}, source_ip)
        self.record().caller_id = caller.caller_id
        return caller

    def admit(self, services: Services) -> Caller:
        """The caller, counted against its rate limit, for a route that calls no model (no tokens)."""
        caller = self.identify(services)
        services.limiter.admit(caller, reserve_tokens=0)
        return caller

    def json_body(self, services: Services, max_bytes: int | None = None) -> dict[str, Any]:
        event = self.router.current_event
        return parse_json_body(
            event.body,
            bool(event.is_base64_encoded),
            max_bytes or services.settings.max_body_bytes,
            declared_bytes=(event.headers or {}).get("content-length"),
        )

    def refresh_cache(self) -> CacheDirectives:
        return cache_directives(self.router.current_event.headers or {})

    def deadline(self, services: Services) -> Deadline:
        """AI_MODEL_TIMEOUT_S, but never past the platform's limits: the answer budget counted from the
        request's arrival, or the Lambda's own remaining time (which does not count its init), less
        margins."""
        since_arrival = seconds_since_arrival(self.router.current_event.raw_event, ARRIVAL_LIMIT_S)
        seconds = min(services.settings.timeout_s, ARRIVAL_LIMIT_S - ANSWER_MARGIN_S - since_arrival)
        lambda_remaining_s = self.lambda_remaining_s()
        if lambda_remaining_s is not None:
            seconds = min(seconds, lambda_remaining_s)
        return Deadline(max(seconds, 0.0))

    def lambda_remaining_s(self) -> float | None:
        """The function's remaining time less the safety margin (None outside Lambda)."""
        remaining_ms = getattr(self.router.lambda_context, "get_remaining_time_in_millis", None)
        return remaining_ms() / 1000 - LAMBDA_SAFETY_MARGIN_S if callable(remaining_ms) else None

    def complete(
        self, request: ModelRequest, caller: Caller, services: Services
    ) -> tuple[dict[str, Any], Usage]:
        """A whole answer: lib/stages/completion.py's `complete` inside this request's deadline."""
        deadline, record = self.deadline(services), self.record()
        return complete(request, caller, services, record, deadline, refresh_cache=self.refresh_cache())

    def record(self) -> RequestRecord:
        """The request's access record (lib/http/gateway.py puts it in the app's context)."""
        record: RequestRecord = self.router.context["record"]
        return record

    def streamed(
        self, stream_format: StreamFormat, request: ModelRequest, caller: Caller, services: Services
    ) -> Response:
        """A `text/event-stream` answer in the caller's format, written by the gateway core as the model
        writes it (lib/http/gateway.py)."""
        from lib.stages.streaming import open_stream

        record = self.record()
        record.stream_body = open_stream(
            stream_format,
            request,
            caller,
            services,
            record,
            self.deadline(services),
            self.lambda_remaining_s(),
            refresh_cache=self.refresh_cache(),
        )
        return Response(
            status_code=200,
            content_type="text/event-stream",
            body="",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

"""Serve a request from its chosen route, then from the route's fallbacks, all inside one deadline.

For each candidate in order: skip it while its circuit breaker is open, or when ZERO_COST forbids it
(allowance spent or too little left for the request's reservation, or a route that is not free);
otherwise call its provider with the time that is left. A failure (connection, timeout, 429 or 5xx
after the provider's own retries, or a key store that cannot be read) hands what is left of the
deadline to the next candidate. The chosen route's
provider must accept the request (a 400 names the field); a fallback that cannot take it is skipped.
Under ZERO_COST the same holds for a passed-through field that could make a free route bill
(lib/routing/quotas.py: FREE_FIELDS and the route's `pass_fields`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, NamedTuple, TypeVar

from aws_lambda_powertools import Logger

from lib.core.answer import Usage, usage_of
from lib.core.pieces import StreamPiece
from lib.core.request import ModelRequest
from lib.platform.deadline import Deadline
from lib.platform.errors import (
    FreeQuotaExhausted,
    GatewayError,
    InvalidRequest,
    NotConfigured,
    RouteUnavailable,
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
)
from lib.platform.route_table import Route
from lib.providers import Provider
from lib.providers.call_stats import CallStats
from lib.providers.upstream_stream import StreamLimits
from lib.routing.breaker import CircuitBreaker
from lib.routing.quotas import FreeQuotas, QuotaHold, QuotaSpent, fields_not_free

logger = Logger(child=True)


def _telling(error: GatewayError | None) -> int:
    """Which failure the caller hears when every route failed: a route's failure (a 502, a 504) over
    the model API refusing the request (a 400), over a route that could not even try (its key unset)."""
    if error is None:
        return -1
    return 0 if isinstance(error, NotConfigured) else 1 if isinstance(error, UpstreamRejected) else 2


class RouteTrace:
    """Which routes were tried and how they ended, for the access log (filled in even on failure)."""

    def __init__(self) -> None:
        self.served_by: str | None = None
        self.failed: list[str] = []  # "name:reason"
        self.breaker_changes: list[str] = []  # "name:new_state"
        self.quota_store_failures = 0
        self.buffered_stream = False  # a stream was asked for, but the route's provider answered whole


T = TypeVar("T")


class Claim(Generic[T]):
    """A route that answered (or opened its stream). `finish` records its health and its tokens,
    once: at once for a whole answer, when the stream ends for a stream."""

    def __init__(
        self,
        route: Route,
        result: T,
        dispatcher: Dispatcher,
        breaker: CircuitBreaker,
        hold: QuotaHold | None,
        trace: RouteTrace,
    ) -> None:
        self.route = route
        self.result = result
        self._dispatcher = dispatcher
        self._breaker = breaker
        self._hold = hold
        self._trace = trace
        self._finished = False

    def finish(self, ok: bool, used_tokens: int) -> None:
        if self._finished:
            return
        self._finished = True
        self._dispatcher._record_breaker(self._breaker, ok, self._trace)
        self._dispatcher._settle_quota(self._hold, used_tokens, self._trace)


StreamClaim = Claim[Iterator[StreamPiece]]


class Served(NamedTuple):
    route: Route
    body: dict[str, Any]
    usage: Usage


class Dispatcher:
    def __init__(
        self,
        providers: Mapping[str, Provider],
        breakers: Mapping[str, CircuitBreaker],
        quotas: FreeQuotas,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._providers = providers
        self._breakers = breakers
        self._quotas = quotas
        self._clock = clock

    def candidates(self, chosen: Route, request: ModelRequest) -> list[Route]:
        """The chosen route (a 400 if its provider cannot take the request, or under ZERO_COST a field
        that could make it bill), then usable fallbacks."""
        self._providers[chosen.name].check(request)
        self._check_free_fields(chosen, request)
        routes = [chosen]
        for name in chosen.fallbacks:
            fallback = self._providers[name]
            try:
                fallback.check(request)
                self._check_free_fields(fallback.route, request)
            except InvalidRequest:
                continue  # this fallback's provider would refuse the request: never send it there
            routes.append(fallback.route)
        return routes

    def _check_free_fields(self, route: Route, request: ModelRequest) -> None:
        refused = fields_not_free(request.extra, route) if self._quotas.zero_cost else []
        if refused:
            raise InvalidRequest(
                f"the field {refused[0]!r} is not sent to route {route.name!r} with ZERO_COST=true: it can "
                "change what the provider charges (the route's pass_fields can allow it)",
                param=refused[0],
                code="field_not_free",
            )

    def serve(
        self,
        request: ModelRequest,
        routes: list[Route],
        reserve_tokens: int,
        deadline: Deadline,
        stats: CallStats,
        trace: RouteTrace,
    ) -> Served:
        def attempt(provider: Provider) -> tuple[dict[str, Any], Usage]:
            body = provider.complete(request, deadline, stats)
            return body, usage_of(body, request)

        claim = self._first_success(routes, reserve_tokens, deadline, stats, trace, attempt)
        body, usage = claim.result
        claim.finish(ok=True, used_tokens=usage.total_tokens)
        return Served(claim.route, body, usage)

    def open_stream(
        self,
        request: ModelRequest,
        routes: list[Route],
        reserve_tokens: int,
        deadline: Deadline,
        stats: CallStats,
        trace: RouteTrace,
        limits: StreamLimits,
    ) -> StreamClaim:
        """The first route whose stream opens (its first event in); `finish` it when the stream ends.
        A provider that cannot stream answers whole, and the answer is replayed as one piece."""

        def attempt(provider: Provider) -> Iterator[StreamPiece]:
            pieces = provider.open_stream(request, deadline, stats, limits)
            if pieces is not None:
                return pieces
            from lib.core.pieces import pieces_of  # on use: streams are the exception

            trace.buffered_stream = True
            body = provider.complete(request, deadline, stats)
            return iter(pieces_of(body, request))

        return self._first_success(routes, reserve_tokens, deadline, stats, trace, attempt)

    def _first_success(
        self,
        routes: list[Route],
        reserve_tokens: int,
        deadline: Deadline,
        stats: CallStats,
        trace: RouteTrace,
        attempt: Callable[[Provider], T],
    ) -> Claim[T]:
        started = self._clock()
        last_error: GatewayError | None = None
        quota_refused = breaker_refused = False
        try:
            for position, route in enumerate(routes):
                if deadline.expired():
                    break
                breaker = self._breakers[route.name]
                granted = breaker.try_acquire()
                if granted is None:
                    breaker_refused = True
                    trace.failed.append(f"{route.name}:breaker_open")
                    continue
                try:
                    hold = self._quotas.reserve(route, reserve_tokens)
                except QuotaSpent:
                    breaker.release(granted)
                    quota_refused = True
                    trace.failed.append(f"{route.name}:free_quota")
                    continue
                billed_before, stats.maybe_billed = stats.maybe_billed, False
                try:
                    result = attempt(self._providers[route.name])
                except (NotConfigured, UpstreamRejected) as exc:
                    # Its key cannot be read, or the model API refused the request itself (a fallback
                    # may take it): neither is the route's health.
                    breaker.release(granted)
                    if _telling(exc) >= _telling(last_error):
                        last_error = exc
                    trace.failed.append(f"{route.name}:{exc.code}")
                    self._settle_quota(hold, 0, trace)
                    continue
                except (UpstreamError, UpstreamTimeout) as exc:
                    self._record_breaker(breaker, False, trace)
                    last_error = exc  # a route's failure is always the news
                    trace.failed.append(f"{route.name}:{exc.code}")
                    self._settle_quota(hold, reserve_tokens if stats.maybe_billed else 0, trace)
                    continue
                finally:
                    stats.maybe_billed = stats.maybe_billed or billed_before
                    stats.fallback_used = stats.fallback_used or position > 0
                trace.served_by = route.name
                return Claim(route, result, self, breaker, hold, trace)
        finally:
            stats.latency_ms = (self._clock() - started) * 1000
        if last_error is not None:
            if len(trace.failed) > 1:  # the last failure alone would hide why the chosen route did not serve
                last_error.message += f" (routes tried in order: {', '.join(trace.failed)})"
            raise last_error
        if quota_refused and not breaker_refused:
            raise FreeQuotaExhausted(
                "every route that may serve this request has used its free allowance this month, or has "
                f"less of it left than the request may use ({reserve_tokens} tokens: its input plus "
                "max_tokens) (ZERO_COST=true); it renews on the 1st (UTC)",
                retry_after_s=self._quotas.seconds_to_next_month(),
            )
        if breaker_refused:
            wait = min(self._breakers[route.name].retry_after_s() for route in routes)
            raise RouteUnavailable(
                "every route for this request is failing and paused by its circuit breaker; try again soon",
                retry_after_s=max(1, round(wait)),
            )
        raise UpstreamTimeout(f"the model API did not answer within {deadline.seconds:g} s")

    def _record_breaker(self, breaker: CircuitBreaker, ok: bool, trace: RouteTrace) -> None:
        before = breaker.state
        breaker.record(ok=ok)
        after = breaker.state
        if after != before:
            trace.breaker_changes.append(f"{breaker.name}:{after}")

    def _settle_quota(self, hold: QuotaHold | None, used_tokens: int, trace: RouteTrace) -> None:
        if not self._quotas.settle(hold, used_tokens):
            trace.quota_store_failures += 1

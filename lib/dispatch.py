"""Serve a request from its chosen route, then from the route's fallbacks, all inside one deadline.

For each candidate in order: skip it while its circuit breaker is open, or when ZERO_COST forbids it
(allowance spent, or a route that is not free); otherwise call its provider with the time that is
left. A failure (connection, timeout, 429 or 5xx after the provider's own retries, or a key store
that cannot be read) hands what is left of the deadline to the next candidate. The chosen route's
provider must accept the request (a 400 names the field); a fallback that cannot take it is skipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from lib.breaker import CircuitBreaker
from lib.errors import (
    FreeQuotaExhausted,
    GatewayError,
    InvalidRequest,
    NotConfigured,
    RouteUnavailable,
    UpstreamError,
    UpstreamTimeout,
)
from lib.providers import Provider
from lib.quotas import FreeQuotas, QuotaSpent
from lib.responses import Usage, usage_of
from lib.route_table import Route
from lib.upstream import CallStats, Deadline
from lib.validation import ModelRequest

logger = Logger(child=True)


@dataclass
class RouteTrace:
    """Which routes were tried and how they ended, for the access log (filled in even on failure)."""

    served_by: str | None = None
    failed: list[str] = field(default_factory=list)  # "name:reason"
    breaker_changes: list[str] = field(default_factory=list)  # "name:new_state"
    quota_store_failures: int = 0


@dataclass(frozen=True)
class Served:
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
        """The chosen route (a 400 if its provider cannot take the request), then usable fallbacks."""
        self._providers[chosen.name].check(request)
        routes = [chosen]
        for name in chosen.fallbacks:
            fallback = self._providers[name]
            try:
                fallback.check(request)
            except InvalidRequest:
                continue  # this fallback's provider would refuse the request: never send it there
            routes.append(fallback.route)
        return routes

    def serve(
        self,
        request: ModelRequest,
        routes: list[Route],
        reserve_tokens: int,
        deadline: Deadline,
        stats: CallStats,
        trace: RouteTrace,
    ) -> Served:
        started = self._clock()
        last_error: GatewayError | None = None
        quota_refused = breaker_refused = False
        try:
            for position, route in enumerate(routes):
                if deadline.expired():
                    break
                breaker = self._breakers[route.name]
                if not breaker.try_acquire():
                    breaker_refused = True
                    trace.failed.append(f"{route.name}:breaker_open")
                    continue
                try:
                    hold = self._quotas.reserve(route, reserve_tokens)
                except QuotaSpent:
                    breaker.release()
                    quota_refused = True
                    trace.failed.append(f"{route.name}:free_quota")
                    continue
                billed_before, stats.maybe_billed = stats.maybe_billed, False
                state_before = breaker.state
                try:
                    body = self._providers[route.name].complete(request, deadline, stats)
                    usage = usage_of(body, request)
                except NotConfigured as exc:  # its key cannot be read: not the route's health
                    breaker.release()
                    last_error = exc
                    trace.failed.append(f"{route.name}:{exc.code}")
                    self._settle_quota(hold, 0, trace)
                    continue
                except (UpstreamError, UpstreamTimeout) as exc:
                    breaker.record(ok=False)
                    last_error = exc
                    trace.failed.append(f"{route.name}:{exc.code}")
                    self._settle_quota(hold, reserve_tokens if stats.maybe_billed else 0, trace)
                    continue
                finally:
                    stats.maybe_billed = stats.maybe_billed or billed_before
                    stats.fallback_used = stats.fallback_used or position > 0
                    self._note_breaker(breaker, state_before, trace)
                breaker.record(ok=True)
                self._note_breaker(breaker, state_before, trace)
                self._settle_quota(hold, usage.total_tokens, trace)
                trace.served_by = route.name
                return Served(route, body, usage)
        finally:
            stats.latency_ms = (self._clock() - started) * 1000
        if last_error is not None:
            raise last_error
        if quota_refused and not breaker_refused:
            raise FreeQuotaExhausted(
                "every route that may serve this request has used its free allowance this month "
                "(ZERO_COST=true); it renews on the 1st (UTC)",
                retry_after_s=self._quotas.seconds_to_next_month(),
            )
        if breaker_refused:
            wait = min(self._breakers[route.name].retry_after_s() for route in routes)
            raise RouteUnavailable(
                "every route for this request is failing and paused by its circuit breaker; try again soon",
                retry_after_s=max(1, round(wait)),
            )
        raise UpstreamTimeout(f"the model API did not answer within {deadline.seconds:g} s")

    def _settle_quota(self, hold: Any, used_tokens: int, trace: RouteTrace) -> None:
        if not self._quotas.settle(hold, used_tokens):
            trace.quota_store_failures += 1

    def _note_breaker(self, breaker: CircuitBreaker, before: str, trace: RouteTrace) -> None:
        after = breaker.state
        change = f"{breaker.name}:{after}"
        if after != before and (not trace.breaker_changes or trace.breaker_changes[-1] != change):
            trace.breaker_changes.append(change)

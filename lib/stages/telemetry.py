"""One access-log line and one set of EMF metrics per request, whatever its outcome.

The handler starts a `RequestRecord`, the stages fill it in, and `finish` writes it out once the
response exists, so refused and failed requests are counted and logged exactly like served ones.
Metrics go out as EMF on stdout (no CloudWatch API call on the request path).

Metric series are kept to ten by default (CloudWatch's free allowance), all with the `service`
dimension only:
    Requests, Errors, UpstreamCalls, UpstreamFailures, Rejected, Throttled, Latency, Tokens, CostUSD
    and powertools' ColdStart.
A cache hit is a request with no upstream call and no tokens (so it shows in Requests minus
UpstreamCalls); its access line says `"cache": "hit"`.
`TokensAboveReservation` is added only when a provider reported more tokens than the request
reserved (an underestimate, charged as reported and logged as a warning): a series that exists only
in the hours it happens, and an alarm on any value of it.
`DETAILED_METRICS=true` adds one count per outcome, upstream latency, prompt/completion tokens,
retries, fallbacks, cache hits among cacheable requests (CacheHits), and tokens and cost per model
(a bounded `model` dimension). Those cost money beyond the free tier; see docs/metrics-and-alarms.md.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from lib.core.answer import Usage
from lib.platform.config import Settings
from lib.providers.call_stats import CallStats

if TYPE_CHECKING:
    from lib.routing.dispatch import RouteTrace

# Response headers the stages set (RequestRecord.response_headers); a batch item carries them in its result.
CACHE_HEADER = "x-cache"
UPSTREAM_MODEL_HEADER = "x-modelgate-upstream-model"  # the model the provider says answered
TEMPERATURE_CLAMPED_HEADER = "X-Temperature-Clamped"
# Outcome -> the default-mode counter it feeds (beside Requests).
_ERROR_OUTCOMES = frozenset(
    {"upstream_error", "upstream_timeout", "not_configured", "store_error", "internal_error"}
)
_UPSTREAM_FAILURES = frozenset({"upstream_error", "upstream_timeout"})
_REJECTED = frozenset({"input_rejected", "auth_failed"})
_THROTTLED = frozenset({"rate_limited", "budget_exceeded"})
# Detailed mode: one count per outcome, named for dashboards.
OUTCOME_METRICS = {
    "ok": "OutcomeOk",
    "input_rejected": "OutcomeInputRejected",
    "auth_failed": "OutcomeAuthFailed",
    "rate_limited": "OutcomeRateLimited",
    "budget_exceeded": "OutcomeBudgetExceeded",
    "upstream_error": "OutcomeUpstreamError",
    "upstream_timeout": "OutcomeUpstreamTimeout",
    "not_configured": "OutcomeNotConfigured",
    "store_error": "OutcomeStoreError",
    "internal_error": "OutcomeInternalError",
}


class StreamFacts:
    """How a streamed answer went, for the access line."""

    def __init__(self) -> None:
        self.first_event_ms: float | None = None
        self.chunks = 0
        self.fault: str | None = None  # cut, idle, too_large, max_time, malformed
        self.disconnected = False  # the caller went away before the end
        self.buffered = False  # the route's provider cannot stream: its whole answer was sent as chunks


class RequestRecord:
    """What happened to one request; filled in by the stages, written out by `finish`."""

    def __init__(
        self,
        method: str,
        route: str,
        *,
        settings: Settings | None = None,
        caller_id: str | None = None,
        batch: str | None = None,  # the batch request's id, on the batch's line and each item's
        batch_item: int | None = None,
    ) -> None:
        self.method = method
        self.route = route
        self.started = time.monotonic()
        self.settings = settings
        self.caller_id = caller_id
        self.batch = batch
        self.batch_item = batch_item
        self.outcome: str | None = None
        self.error_code: str | None = None
        self.model: str | None = None
        self.temperature_clamped: str | None = (
            None  # "requested->applied" when TEMPERATURE_POLICY=clamp moved it
        )
        self.usage: Usage | None = None
        self.cost_usd = 0.0
        # Tokens the budget was charged: the provider's usage (or the estimate when it reported none),
        # even above the reservation; the reservation for a failed call that may have been billed; 0
        # for a cache hit or a call the provider refused.
        self.charged_tokens = 0
        self.reserved_tokens = 0  # the input's upper bound plus max_tokens, taken before the call
        self.tokens_above_reservation = 0  # charged minus reserved, when the provider reported more
        self.upstream: CallStats | None = None
        self.routes: RouteTrace | None = None
        self.stream: StreamFacts | None = None
        self.stream_body: Iterator[bytes] | None = None  # set by a route that answers as a stream
        self.store_failures = 0
        self.prompt: str | None = None
        self.completion: str | None = None
        self.cache: str | None = (
            None  # "hit", "miss", "refresh" (no-cache) or "bypass" (no-store) for a cacheable request
        )
        # Headers for the caller (x-cache, X-Temperature-Clamped), merged into the response in one place:
        # lib/http/gateway.py. A batch item puts them in its result instead.
        self.response_headers: dict[str, str] = {}
        self.batch_items: list[RequestRecord] = []  # logged before the batch's own line
        self.status: int | None = None  # an item's status (a whole request's comes from its response)
        self.finished: float | None = None  # when an item ended (its line is written after the whole batch)

    @classmethod
    def start(cls, event: dict[str, Any]) -> RequestRecord:
        http = (event.get("requestContext") or {}).get("http") or {}
        return cls(
            method=str(http.get("method", "")), route=str(event.get("rawPath") or http.get("path") or "")
        )

    def fail(self, outcome: str, code: str | None) -> None:
        self.outcome = outcome
        self.error_code = code


def finish(record: RequestRecord, status: int, logger: Logger, metrics: Metrics) -> None:
    """Log the access line and add the metrics (a batch's items first, each as a request of its own).
    Never raises: telemetry must not fail a request. Runs on the request's own thread, never in a
    batch's worker threads: powertools `Metrics` is not documented as thread-safe."""
    for item in record.batch_items:
        finish(item, item.status or 500, logger, metrics)
    outcome = record.outcome or ("ok" if status < 400 else "internal_error")
    latency_ms = ((record.finished or time.monotonic()) - record.started) * 1000
    try:
        _add_metrics(record, outcome, latency_ms, metrics)
    except Exception:  # noqa: BLE001 - a metrics fault is logged, never raised into the response
        logger.warning("metrics could not be recorded", extra={"outcome": outcome})
    with contextlib.suppress(Exception):  # same rule for the log line; there is nowhere left to report it
        logger.info("request", extra=_access_fields(record, outcome, status, latency_ms))
    if record.tokens_above_reservation:
        with contextlib.suppress(Exception):
            logger.warning(
                "usage above the reservation",
                extra={
                    "route": f"{record.method} {record.route}",
                    "model": record.model,
                    "served_by": record.routes.served_by if record.routes else None,
                    "reserved_tokens": record.reserved_tokens,
                    "charged_tokens": record.charged_tokens,
                    "tokens_above_reservation": record.tokens_above_reservation,
                },
            )


def _access_fields(record: RequestRecord, outcome: str, status: int, latency_ms: float) -> dict[str, Any]:
    upstream = record.upstream
    fields: dict[str, Any] = {
        "route": f"{record.method} {record.route}",
        "status": status,
        "outcome": outcome,
        "model": record.model,
        "latency_ms": round(latency_ms, 2),
        "upstream_latency_ms": round(upstream.latency_ms, 2) if upstream else None,
        "upstream_attempts": upstream.attempts if upstream else 0,
        "retries": upstream.retries if upstream else 0,
        "fallback": upstream.fallback_used if upstream else False,
        "prompt_tokens": record.usage.prompt_tokens if record.usage else 0,
        "completion_tokens": record.usage.completion_tokens if record.usage else 0,
        "total_tokens": record.usage.total_tokens if record.usage else 0,
        "tokens_estimated": record.usage.estimated if record.usage else False,
        "cost_usd": record.cost_usd,
        "charged_tokens": record.charged_tokens,
        "reserved_tokens": record.reserved_tokens,
        "caller": record.caller_id,
        "error_code": record.error_code,
    }
    if record.routes is not None:
        fields["served_by"] = record.routes.served_by
        if record.routes.failed:
            fields["failed_routes"] = record.routes.failed
        if record.routes.breaker_changes:
            fields["breaker_changes"] = record.routes.breaker_changes
    if record.stream is not None:
        fields["stream"] = {name: value for name, value in vars(record.stream).items() if value}
    if record.tokens_above_reservation:
        fields["tokens_above_reservation"] = record.tokens_above_reservation
    if record.store_failures:
        fields["store_failures"] = record.store_failures
    if record.temperature_clamped:
        fields["temperature_clamped"] = record.temperature_clamped
    if record.cache is not None:
        fields["cache"] = record.cache
    if record.batch is not None:
        fields["batch"] = record.batch
        if record.batch_item is not None:
            fields["batch_item"] = record.batch_item
        else:
            fields["batch_items"] = len(record.batch_items)
    if record.settings is not None and record.settings.log_prompts:
        fields["prompt"] = record.prompt
        fields["completion"] = record.completion
    return fields


def _add_metrics(record: RequestRecord, outcome: str, latency_ms: float, metrics: Metrics) -> None:
    tokens = record.usage.total_tokens if record.usage else 0
    upstream = record.upstream
    reached_upstream = upstream is not None and upstream.attempts > 0
    metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="Errors", unit=MetricUnit.Count, value=int(outcome in _ERROR_OUTCOMES))
    metrics.add_metric(name="UpstreamCalls", unit=MetricUnit.Count, value=int(reached_upstream))
    metrics.add_metric(
        name="UpstreamFailures", unit=MetricUnit.Count, value=int(outcome in _UPSTREAM_FAILURES)
    )
    metrics.add_metric(name="Rejected", unit=MetricUnit.Count, value=int(outcome in _REJECTED))
    metrics.add_metric(name="Throttled", unit=MetricUnit.Count, value=int(outcome in _THROTTLED))
    metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=latency_ms)
    metrics.add_metric(name="Tokens", unit=MetricUnit.Count, value=tokens)
    metrics.add_metric(name="CostUSD", unit=MetricUnit.NoUnit, value=record.cost_usd)
    if record.tokens_above_reservation:
        metrics.add_metric(
            name="TokensAboveReservation", unit=MetricUnit.Count, value=record.tokens_above_reservation
        )
    settings = record.settings
    if settings is None or not settings.detailed_metrics:
        return
    metrics.add_metric(
        name=OUTCOME_METRICS.get(outcome, "OutcomeInternalError"), unit=MetricUnit.Count, value=1
    )
    if record.cache is not None:
        metrics.add_metric(name="CacheHits", unit=MetricUnit.Count, value=int(record.cache == "hit"))
    if record.routes is not None and record.routes.breaker_changes:
        metrics.add_metric(
            name="BreakerChanges", unit=MetricUnit.Count, value=len(record.routes.breaker_changes)
        )
    if upstream is not None and reached_upstream:
        metrics.add_metric(name="UpstreamLatency", unit=MetricUnit.Milliseconds, value=upstream.latency_ms)
        metrics.add_metric(name="Retries", unit=MetricUnit.Count, value=upstream.retries)
        metrics.add_metric(name="Fallbacks", unit=MetricUnit.Count, value=int(upstream.fallback_used))
    if record.usage is not None:
        metrics.add_metric(name="PromptTokens", unit=MetricUnit.Count, value=record.usage.prompt_tokens)
        metrics.add_metric(
            name="CompletionTokens", unit=MetricUnit.Count, value=record.usage.completion_tokens
        )
        served_by = record.routes.served_by if record.routes else None
        model = model_dimension(record.model, settings, served_by)
        for name, unit, value in (
            ("ModelTokens", MetricUnit.Count, tokens),
            ("ModelCostUSD", MetricUnit.NoUnit, record.cost_usd),
        ):
            with single_metric(
                name=name,
                unit=unit,
                value=value,
                namespace=metrics.namespace,
                default_dimensions=metrics.default_dimensions,
            ) as metric:
                metric.add_dimension(name="model", value=model)


def model_dimension(model: str | None, settings: Settings, served_by: str | None = None) -> str:
    """Callers choose model names, so only configured ones (a route's name, AI_MODEL_NAME, a name in
    MODEL_PRICES) become dimension values: the series stay bounded."""
    if model and (model == served_by or model == settings.model_name or model in settings.model_prices):
        return model
    return "other"

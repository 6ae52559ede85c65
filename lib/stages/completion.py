"""The stages every model request shares, whatever its entry point: choose the route, admit the
caller (rate limit and budget), answer from the cache or call the provider (then the route's
fallbacks), keep a cacheable answer, settle the real usage.

It takes everything it needs as arguments (no request state in module globals), so HTTP routes,
batch items and streams run the same code side by side.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from lib.callers.identity import Caller
from lib.callers.limits import Admission
from lib.core.answer import Usage, completion_text
from lib.core.request import ModelRequest
from lib.platform.deadline import Deadline
from lib.platform.errors import NotConfigured, UpstreamError, UpstreamTimeout
from lib.platform.route_table import Route
from lib.providers.call_stats import CallStats
from lib.routing.dispatch import RouteTrace
from lib.stages.cache import DEFAULT_DIRECTIVES, Cached, CacheDirectives, store_failed_in
from lib.stages.context import Services
from lib.stages.telemetry import (
    CACHE_HEADER,
    TEMPERATURE_CLAMPED_HEADER,
    UPSTREAM_MODEL_HEADER,
    RequestRecord,
)

# The upstream deadline keeps a second of the Lambda's time back (route_stages.LAMBDA_SAFETY_MARGIN_S): the
# settlement may use half of it, whatever the store does; the other half is for writing the answer.
SETTLE_AFTER_DEADLINE_S = 0.5


def plan(request: ModelRequest, services: Services, record: RequestRecord) -> tuple[str, list[Route]]:
    """The prompt text and the routes to try: the chosen one (a 400 if it cannot take the request)
    and its fallbacks."""
    prompt = request.prompt_text()
    route = services.chooser.choose(request.model, request.domain, prompt, request.kind)
    candidates = services.dispatcher.candidates(route, request)
    if not services.routes.from_file and not route.upstream_model(request.model):
        raise NotConfigured('no model: set AI_MODEL_NAME or send "model" in the request', param="model")
    record.model = route.name if services.routes.from_file else route.upstream_model(request.model)
    record.temperature_clamped = request.temperature_clamp()
    if record.temperature_clamped:
        record.response_headers[TEMPERATURE_CLAMPED_HEADER] = record.temperature_clamped
    if services.settings.log_prompts:
        record.prompt = prompt
    return prompt, candidates


def public_model(route: Route, request: ModelRequest, services: Services) -> str:
    """The `model` a reply names: the route's public name, or the upstream model in single-model mode."""
    return route.name if services.routes.from_file else route.upstream_model(request.model)


def cost_of(tokens: int, route: Route, services: Services, record: RequestRecord) -> float:
    """USD for `tokens` on `route`: its price, else MODEL_PRICES for the model, else 0."""
    price = route.price_per_1k_tokens
    if price is None:
        price = services.settings.price_per_1k_tokens(record.model or "")
    return tokens / 1000 * price


def record_charge(record: RequestRecord, used_tokens: int, reserved_tokens: int) -> None:
    """What the budget and the free allowance are charged: the provider's reported usage, even above
    the reservation (max_tokens ignored, an input the estimate undercounts): an underestimate is a
    bug to see, not to hide, so the access line, a warning and a metric show the excess."""
    record.charged_tokens = used_tokens
    record.reserved_tokens = reserved_tokens
    record.tokens_above_reservation = max(0, used_tokens - reserved_tokens)


def set_upstream_model(record: RequestRecord, reported: Any, route: Route, request: ModelRequest) -> None:
    """The x-modelgate-upstream-model header: the model the provider says answered, else the one it was
    asked for (in single-model mode, the caller's), else none: only what an HTTP header can carry."""
    for name in (reported, route.upstream_model(request.model)):
        if isinstance(name, str) and 0 < len(name) <= 256 and all(" " <= char <= "~" for char in name):
            record.response_headers[UPSTREAM_MODEL_HEADER] = name
            return


class Admitted(NamedTuple):
    """A request past the stages before the model: its routes, its admission, and the cache's word."""

    prompt: str
    candidates: list[Route]
    admission: Admission
    cache_key: str | None
    hit: Cached | None
    reserved_tokens: int  # the input's upper bound plus max_tokens (lib/core/token_estimate.py)


def admit(
    request: ModelRequest,
    caller: Caller,
    services: Services,
    record: RequestRecord,
    refresh_cache: CacheDirectives,
) -> Admitted:
    """Route (plan), then the rate limit and budget (the reservation), then the cache, in that order,
    for whole answers and streams alike."""
    prompt, candidates = plan(request, services, record)
    reserved = record.reserved_tokens = request.reserved_tokens
    admission = services.limiter.admit(caller, reserve_tokens=reserved)
    record.store_failures += int(admission.store_failed)
    cache_key, hit = cached_answer(request, candidates[0], caller, services, record, admission, refresh_cache)
    return Admitted(prompt, candidates, admission, cache_key, hit, reserved)


def complete(
    request: ModelRequest,
    caller: Caller,
    services: Services,
    record: RequestRecord,
    deadline: Deadline,
    *,
    refresh_cache: CacheDirectives = DEFAULT_DIRECTIVES,
) -> tuple[dict[str, Any], Usage]:
    """Route, admit, answer from the cache or call the model (then fallbacks), settle the real usage
    (also when the call failed but may have been billed). Everything it learns goes into `record`,
    for the access line."""
    settings = services.settings
    admitted = admit(request, caller, services, record, refresh_cache)
    if admitted.hit is not None:
        return admitted.hit.body, admitted.hit.usage
    candidates, admission, cache_key = admitted.candidates, admitted.admission, admitted.cache_key
    route = candidates[0]
    reserve_tokens = admitted.reserved_tokens
    stats = record.upstream = CallStats()
    trace = record.routes = RouteTrace()
    used_tokens, cost_usd = 0, 0.0
    try:
        served = services.dispatcher.serve(request, candidates, reserve_tokens, deadline, stats, trace)
        body = dict(served.body)
        set_upstream_model(record, body.get("model"), served.route, request)
        if services.routes.from_file:
            body["model"] = served.route.name  # the public name of the route that answered
            record.model = served.route.name
        usage = record.usage = served.usage
        used_tokens = usage.total_tokens
        cost_usd = record.cost_usd = cost_of(usage.total_tokens, served.route, services, record)
        if settings.log_prompts:
            record.completion = completion_text(body)
        # A fallback's answer is not what the chosen route would have said: it is not kept.
        served_as_chosen = served.route.name == route.name and not stats.fallback_used
        if cache_key is not None and served_as_chosen and not store_failed_in(record):
            record.store_failures += int(not services.cache.put(cache_key, body, usage))
        return body, usage
    except (UpstreamError, UpstreamTimeout):
        if stats.maybe_billed:
            # The provider may have generated (and billed) an answer we never received: count the reservation.
            used_tokens = reserve_tokens
        raise
    finally:
        record.store_failures += trace.quota_store_failures
        record_charge(record, used_tokens, reserve_tokens)
        settle_time_s = max(deadline.remaining(), 0.0) + SETTLE_AFTER_DEADLINE_S
        if not services.limiter.settle(admission, used_tokens, cost_usd, settle_time_s):
            record.store_failures += 1


def cached_answer(
    request: ModelRequest,
    route: Route,
    caller: Caller,
    services: Services,
    record: RequestRecord,
    admission: Admission,
    directives: CacheDirectives,
) -> tuple[str | None, Cached | None]:
    """The cache stage, after admission: the entry's key (None: not to be cached) and, on a hit, the
    answer. A hit calls no upstream and charges no tokens: the reservation is released, the request
    still counted. Cache-Control: no-cache skips the lookup, not the write after it; no-store, or a
    store that already failed in this request, skips both (lib/stages/cache.py)."""
    record.response_headers[CACHE_HEADER] = "miss"
    key = services.cache.key_for(request, route, caller.caller_id)
    if key is None:
        return None, None
    if not directives.write or store_failed_in(record):
        record.cache = "bypass"
        return None, None
    record.cache = "miss" if directives.read else "refresh"
    if not directives.read:
        return key, None
    lookup = services.cache.get(key)
    record.store_failures += int(lookup.store_failed)
    if lookup.answer is None:
        return (None if lookup.store_failed else key), None
    record.cache = record.response_headers[CACHE_HEADER] = "hit"
    if not services.limiter.settle(admission, 0, 0.0):
        record.store_failures += 1
    if services.settings.log_prompts:
        record.completion = completion_text(lookup.answer.body)
    return key, lookup.answer

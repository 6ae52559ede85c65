"""The block `make run` prints before it serves: everything that is on, so nobody has to find out by
sending requests. The address, who may call, where the table is, the routes (kind, provider, upstream
model, free allowance, price, fallbacks, a key that is missing) or the single model, the model names a
client can send (for chat, and for embeddings where a route serves them), the single-model variables a
routes file overrides, ZERO_COST, the cache and CORS.

Settings are read as the gateway reads them (lib/platform/config.py): a bad variable stops `make run`
with the gateway's own message instead of a 503 at the first request.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from lib.platform.config import ConfigError, Settings, load_settings
from lib.platform.route_table import Route, RouteTable
from lib.routing.quotas import FreeQuotas
from local.stack import LocalStack

_AUTH = {
    "none": "AUTH_MODE=none: no client keys, each source IP is a caller",
    "keys": "AUTH_MODE=keys: every request needs a client key (make keys-create NAME=...)",
}
_CACHE = {
    "seeded": "CACHE_MODE=seeded: answers to requests that send a seed",
    "all": "CACHE_MODE=all: every answer",
    "off": "CACHE_MODE=off: nothing is cached",
}
# How to start without the routes file: the Makefile passes routes.toml only while ROUTES_FILE is unset.
WITHOUT_ROUTES = "ROUTES_FILE= make run"


def startup_block(stack: LocalStack, environ: Mapping[str, str], address: str | None) -> list[str]:
    try:
        settings = load_settings(environ)
    except ConfigError as exc:
        raise SystemExit(f"modelgate: the gateway is misconfigured: {exc}") from None
    lines = [f"modelgate: serving {address} (Ctrl-C stops everything)"] if address else []
    lines += [
        f"  auth       {_AUTH.get(settings.auth_mode, settings.auth_mode)}",
        f"  AWS        {stack.aws}",
    ]
    if stack.routes is None:
        lines += _single_model(stack, settings)
    else:
        lines += _routes(stack, stack.routes, environ, settings)
    lines.append(f"  limits     {_limits(settings, embedded=stack.aws.startswith('embedded'))}")
    lines.append(f"  ZERO_COST  {_zero_cost(stack.routes, settings)}")
    cache = _CACHE.get(settings.cache_mode, settings.cache_mode)
    if settings.cache_mode != "off":
        cache += f", {'per caller' if settings.cache_scope == 'caller' else 'shared by all callers'}"
        cache += f", for {settings.cache_ttl_s:,} s"
    lines.append(f"  cache      {cache}")
    origins = ", ".join(settings.cors_allow_origins)
    lines.append(
        f"  CORS       {origins or 'off: no other origin may call from a browser (CORS_ALLOW_ORIGINS=...)'}"
    )
    return lines


def _limits(settings: Settings, *, embedded: bool) -> str:
    """Each caller's rate limit and daily budget: a local run spends them as a deployed one does."""
    said = (
        f"{settings.rate_limit_rpm:,} requests/minute (burst {settings.rate_limit_burst:,}) and "
        f"{settings.daily_token_budget:,} tokens/day per caller, a request reserving its input's upper "
        "bound plus max_tokens; RATE_LIMIT_RPM=... DAILY_TOKEN_BUDGET=... make run for more"
    )
    return said + (" (the embedded table starts empty each run)" if embedded else "")


def _single_model(stack: LocalStack, settings: Settings) -> list[str]:
    default = f"{settings.model_name} when none is sent" if settings.model_name else "none sent: a 400"
    if stack.built_in_model:
        return [
            f"  model      the built-in local model at {stack.built_in_model} (not a real model; "
            "AI_MODEL_ENDPOINT=... AI_MODEL_API_KEY=... make run for one)",
            f"  models     any name, passed on to it, for chat and embeddings ({default})",
        ]
    return [
        f"  model      {settings.model_endpoint} (AI_MODEL_ENDPOINT)",
        f"  models     any name it serves, passed on ({default})",
    ]


def _routes(
    stack: LocalStack, table: RouteTable, environ: Mapping[str, str], settings: Settings
) -> list[str]:
    lines = [f"  routes     from {settings.routes_file} (to run without it: {WITHOUT_ROUTES})"]
    width = max(len(name) for name in table.names)
    for route in table.routes.values():
        lines.append(f"    {route.name:<{width}}  {_route_summary(route, table, stack, environ)}")
    lines.append(f"  models     {_names(table, 'chat', table.default)}")
    if table.default_embeddings:
        lines.append(f"  embeddings {_names(table, 'embeddings', table.default_embeddings)}")
    if stack.ignored:
        lines.append(
            f"  ignored    {', '.join(stack.ignored)}: the routes file decides ({WITHOUT_ROUTES} to use them)"
        )
    return lines


def _names(table: RouteTable, kind: str, default: str) -> str:
    """The names a client may send for `kind`, the default first."""
    others = [name for name, route in table.routes.items() if route.kind == kind and name != default]
    return ", ".join([f"{default} (the default, when none is sent)", *others])


def _route_summary(route: Route, table: RouteTable, stack: LocalStack, environ: Mapping[str, str]) -> str:
    if stack.built_in_model and route.endpoint == stack.built_in_model:
        where = f"the built-in local model at {urlsplit(route.endpoint).netloc}"
    else:
        host = urlsplit(route.endpoint).netloc if route.endpoint else "AWS"
        where = f"{route.provider} {route.model} at {host}"
    if route.kind != "chat":
        where = f"{route.kind}: {where}"
    terms = []
    if route.free_tokens_per_month is not None:
        terms.append(f"{route.free_tokens_per_month:,} free tokens/month")
    if route.price_per_1k_tokens is not None:
        terms.append(
            "free (price 0)"
            if route.price_per_1k_tokens == 0
            else f"${route.price_per_1k_tokens:g}/1k tokens"
        )
    if route.fallbacks:
        terms.append(f"fallbacks {', '.join(route.fallbacks)}")
    variable = _unset_key(route, environ)
    if variable:
        # Only a route's own fallbacks are tried (not theirs): say which of them can answer for it.
        serving = [name for name in route.fallbacks if not _unset_key(table.routes[name], environ)]
        if serving:
            until = f"{', '.join(serving)} serve{'s' if len(serving) == 1 else ''} until set"
        else:
            until = "a 503 until set" + (
                ": none of its fallbacks has a key either" if route.fallbacks else ""
            )
        terms.append(f"key {variable} unset ({until})")
    return "; ".join([where, *terms])


def _unset_key(route: Route, environ: Mapping[str, str]) -> str | None:
    """The variable of a route's `env:` key when it is unset or blank (other stores are read later)."""
    scheme, _, variable = (route.key or "").partition(":")
    return variable if scheme == "env" and not (environ.get(variable) or "").strip() else None


def _zero_cost(table: RouteTable | None, settings: Settings) -> str:
    if not settings.zero_cost:
        return "off: every route serves whatever it costs"
    quotas = FreeQuotas(None, zero_cost=True)
    if table is None:
        return "on: the single model has no free allowance or price 0, so it never serves (use a routes file)"
    never = [route.name for route in table.routes.values() if not quotas.may_ever_serve(route)]
    return "on: a route serves only while its free allowance lasts or at price 0" + (
        f"; never: {', '.join(never)}" if never else ""
    )

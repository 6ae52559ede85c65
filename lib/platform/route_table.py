"""The routes: which models and providers the gateway serves, read from ROUTES_FILE (TOML) once.

A route is a public model name (what callers send as "model") bound to one provider, endpoint, upstream
model and key, with the domains and keywords that choose it, its fallbacks, and its free allowance and
price. The file is validated whole when it is read: a mistake is a `ConfigError` naming the route and
the field, never a failure halfway through a request. Without ROUTES_FILE, the single-model variables
(AI_MODEL_ENDPOINT, AI_MODEL_NAME, AI_MODEL_FALLBACK_ENDPOINT) form one route that passes the caller's
model on, exactly as before routes existed.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any, NamedTuple

from lib.platform.config import ConfigError, Settings
from lib.platform.route_fields import VARIABLE, RouteReader

KEY_SCHEMES = ("env", "ssm", "secret")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")
_FIELDS = frozenset(
    {
        "name",
        "provider",
        "endpoint",
        "model",
        "key",
        "domains",
        "keywords",
        "fallbacks",
        "free_tokens_per_month",
        "price_per_1k_tokens",
        "pass_fields",
        "apis",
        "kind",
    }
)
# What a route serves: chat (chat and legacy completions, and the formats built on them) or embeddings.
ROUTE_KINDS = ("chat", "embeddings")
# Keywords in the whole file (characters in one: lib/platform/route_fields.py): the matcher of every
# keyword is built at a container's first request; at these bounds that takes about 0.2 s.
MAX_KEYWORDS = 500
# The caller APIs a route's provider also speaks natively, by provider: such a request is passed through.
NATIVE_APIS = {"openai": ("responses",)}
# Providers that authenticate with the function's IAM role, not with a key.
KEYLESS_PROVIDERS = frozenset({"bedrock"})


class Route(NamedTuple):
    name: str
    provider: str
    model: str | None  # the upstream's own model id; None: the caller's model is passed on
    endpoint: str | None = None
    key: str | None = None  # env:NAME | ssm:/name | secret:name; None: no key (or the single-model key)
    domains: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    fallbacks: tuple[str, ...] = ()
    free_tokens_per_month: int | None = None
    price_per_1k_tokens: float | None = None
    pass_fields: tuple[str, ...] = ()  # under ZERO_COST, request fields sent to it beyond the free ones
    fallback_endpoint: str | None = None  # single-model mode only: AI_MODEL_FALLBACK_ENDPOINT
    default_model: str | None = None  # single-model mode only: AI_MODEL_NAME, when the caller sends none
    apis: tuple[str, ...] = ()  # caller APIs the provider speaks itself ("responses"): passed through
    kind: str = "chat"  # ROUTE_KINDS: what the route answers (the single-model route answers both)

    @property
    def endpoints(self) -> tuple[str, ...]:
        return tuple(url for url in (self.endpoint, self.fallback_endpoint) if url)

    def upstream_model(self, requested: str) -> str:
        """The model id sent upstream ("" when nothing names one)."""
        if self.model is not None:
            return self.model
        return requested or self.default_model or ""


class RouteTable(NamedTuple):
    routes: Mapping[str, Route]  # by public name, in file order
    default: str
    from_file: bool  # False: the single-model route built from the AI_MODEL_* variables
    default_embeddings: str | None = None  # the embeddings route for a request that names none

    def route(self, name: str) -> Route:
        return self.routes[name]

    @property
    def names(self) -> list[str]:
        return list(self.routes)

    @property
    def counts_quotas(self) -> bool:
        return any(route.free_tokens_per_month is not None for route in self.routes.values())


def single_model_table(settings: Settings) -> RouteTable:
    route = Route(
        name=settings.model_name or "default",
        provider="openai",
        model=None,
        endpoint=settings.model_endpoint,
        fallback_endpoint=settings.fallback_endpoint,
        default_model=settings.model_name,
    )
    return RouteTable({route.name: route}, route.name, from_file=False)


def load_route_table(
    path: str, providers: Collection[str], bedrock_model_ids: Collection[str] | None
) -> RouteTable:
    """Read and validate the routes file. `bedrock_model_ids`: the ids IAM grants (None: not checked)."""
    import tomllib  # here: only a deployment with a routes file reads TOML (a cold start need not)

    try:
        with open(path, "rb") as file:
            document = tomllib.load(file)
    except OSError as exc:
        raise ConfigError(VARIABLE, f"names {path!r}, which cannot be read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(VARIABLE, f"{path!r} is not valid TOML ({exc})") from None
    return parse_route_table(document, providers, bedrock_model_ids)


def parse_route_table(
    document: Mapping[str, Any], providers: Collection[str], bedrock_model_ids: Collection[str] | None
) -> RouteTable:
    unknown = sorted(set(document) - {"default", "default_embeddings", "route"})
    if unknown:
        raise ConfigError(
            VARIABLE,
            f"has unknown top-level field(s) {', '.join(unknown)}; "
            "use default, default_embeddings and [[route]]",
        )
    entries = document.get("route")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(VARIABLE, "has no routes: add at least one [[route]] table")
    routes: dict[str, Route] = {}
    keywords = 0
    for index, entry in enumerate(entries):
        route = _parse_route(index, entry, providers)
        if route.name in routes:
            raise ConfigError(VARIABLE, f"route {route.name!r}: the name is used by another route")
        routes[route.name] = route
        keywords += len(route.keywords)
        if keywords > MAX_KEYWORDS:
            raise ConfigError(
                VARIABLE,
                f"route {route.name!r}: field 'keywords' brings the file's keywords to {keywords}; at most "
                f"{MAX_KEYWORDS} in all (choose routes by model or domain beyond that)",
            )
    for route in routes.values():
        for fallback in route.fallbacks:
            if fallback not in routes or fallback == route.name or routes[fallback].kind != route.kind:
                raise ConfigError(
                    VARIABLE,
                    f"route {route.name!r}: field 'fallbacks' names {fallback!r}, which is not another "
                    f"{route.kind} route ({route.kind} routes: {', '.join(_of_kind(routes, route.kind))})",
                )
        if (
            route.provider == "bedrock"
            and bedrock_model_ids is not None
            and route.model not in bedrock_model_ids
        ):
            raise ConfigError(
                VARIABLE,
                f"route {route.name!r}: field 'model' {route.model!r} is not among the Bedrock model ids the "
                "stack grants (template parameter BedrockModelIds, variable BEDROCK_MODEL_IDS)",
            )
    _check_unique_domains(routes)
    default = _default_of(document, "default", _of_kind(routes, "chat"))
    if default is None:
        raise ConfigError(VARIABLE, 'has no chat route: add a [[route]] without kind = "embeddings"')
    embeddings = _default_of(document, "default_embeddings", _of_kind(routes, "embeddings"))
    return RouteTable(routes, default, from_file=True, default_embeddings=embeddings)


def _of_kind(routes: Mapping[str, Route], kind: str) -> list[str]:
    return [name for name, route in routes.items() if route.kind == kind]


def _default_of(document: Mapping[str, Any], field: str, names: list[str]) -> str | None:
    """The route `field` names among `names` (the routes of its kind), else the first of them."""
    value = document.get(field, names[0] if names else None)
    if value is not None and (not isinstance(value, str) or value not in names):
        kind = "an embeddings" if field == "default_embeddings" else "a chat"
        raise ConfigError(
            VARIABLE, f"field {field!r} must name {kind} route ({', '.join(names)}), got {value!r}"
        )
    return value


def _parse_route(index: int, entry: Any, providers: Collection[str]) -> Route:
    if not isinstance(entry, dict):
        raise ConfigError(VARIABLE, f"route #{index + 1} must be a [[route]] table")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            VARIABLE,
            f"route #{index + 1}: field 'name' must be 1-64 letters, digits or . _ : / -",
        )
    read = RouteReader(name, entry)
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise read.error(unknown[0], f"is not a route field (fields: {', '.join(sorted(_FIELDS))})")
    provider = read.required_text("provider")
    if provider not in providers:
        raise read.error("provider", f"must be one of {', '.join(sorted(providers))}, got {provider!r}")
    keyless = provider in KEYLESS_PROVIDERS
    endpoint = read.url("endpoint", required=not keyless)
    key = read.optional_text("key")
    if key is None and not keyless:
        raise read.error("key", "is required: env:NAME, ssm:/parameter/name or secret:name-or-arn")
    if key is not None:
        if keyless:
            raise read.error("key", f"is not used by {provider} (it authenticates with the function's role)")
        scheme, _, reference = key.partition(":")
        if scheme not in KEY_SCHEMES or not reference:
            raise read.error(
                "key", f"must be env:NAME, ssm:/parameter/name or secret:name-or-arn, got {scheme!r}:..."
            )
    kind = read.optional_text("kind") or "chat"
    if kind not in ROUTE_KINDS:
        raise read.error("kind", f"must be one of {', '.join(ROUTE_KINDS)}, got {kind!r}")
    if kind == "embeddings" and (entry.get("domains") or entry.get("keywords")):
        field = "domains" if entry.get("domains") else "keywords"
        raise read.error(field, "chooses chat routes only: an embeddings route is chosen by its name")
    return Route(
        name=name,
        provider=provider,
        kind=kind,
        model=read.required_text("model"),
        endpoint=endpoint,
        key=key,
        domains=read.texts("domains"),
        keywords=read.keywords(),
        fallbacks=read.texts("fallbacks", unique=True),
        free_tokens_per_month=read.count("free_tokens_per_month"),
        price_per_1k_tokens=read.price("price_per_1k_tokens"),
        pass_fields=read.texts("pass_fields", unique=True),
        apis=_native_apis(read, provider),
    )


def _native_apis(read: RouteReader, provider: str) -> tuple[str, ...]:
    apis = read.texts("apis")
    known = NATIVE_APIS.get(provider, ())
    for api in apis:
        if api not in known:
            raise read.error(
                "apis", f"lists {api!r}; a {provider} route may list: {', '.join(known) or 'nothing'}"
            )
    return apis


def _check_unique_domains(routes: Mapping[str, Route]) -> None:
    owner: dict[str, str] = {}
    for route in routes.values():
        for domain in route.domains:
            if domain in owner:
                raise ConfigError(
                    VARIABLE,
                    f"route {route.name!r}: field 'domains' repeats {domain!r} of route {owner[domain]!r}",
                )
            owner[domain] = route.name

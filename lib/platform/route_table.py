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
from urllib.parse import urlsplit

from lib.platform.config import ConfigError, Settings

VARIABLE = "ROUTES_FILE"
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
    }
)
# Keywords in the whole file, and characters in one: the matcher of every keyword is built at a
# container's first request, and at these bounds that takes about 0.2 s (tests/unit/test_route_table.py).
MAX_KEYWORDS = 500
MAX_KEYWORD_CHARS = 64
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
    unknown = sorted(set(document) - {"default", "route"})
    if unknown:
        raise ConfigError(
            VARIABLE, f"has unknown top-level field(s) {', '.join(unknown)}; use default and [[route]]"
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
            if fallback not in routes or fallback == route.name:
                raise ConfigError(
                    VARIABLE,
                    f"route {route.name!r}: field 'fallbacks' names {fallback!r}, which is not another route "
                    f"(routes: {', '.join(routes)})",
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
    default = document.get("default", next(iter(routes)))
    if not isinstance(default, str) or default not in routes:
        raise ConfigError(
            VARIABLE, f"field 'default' must name a route ({', '.join(routes)}), got {default!r}"
        )
    return RouteTable(routes, default, from_file=True)


def _parse_route(index: int, entry: Any, providers: Collection[str]) -> Route:
    if not isinstance(entry, dict):
        raise ConfigError(VARIABLE, f"route #{index + 1} must be a [[route]] table")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            VARIABLE,
            f"route #{index + 1}: field 'name' must be 1-64 letters, digits or . _ : / -",
        )
    read = _RouteReader(name, entry)
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
    return Route(
        name=name,
        provider=provider,
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


def _native_apis(read: _RouteReader, provider: str) -> tuple[str, ...]:
    apis = read.texts("apis")
    known = NATIVE_APIS.get(provider, ())
    for api in apis:
        if api not in known:
            raise read.error(
                "apis", f"lists {api!r}; a {provider} route may list: {', '.join(known) or 'nothing'}"
            )
    return apis


class _RouteReader:
    def __init__(self, name: str, entry: Mapping[str, Any]) -> None:
        self._name = name
        self._entry = entry

    def error(self, field: str, problem: str) -> ConfigError:
        return ConfigError(VARIABLE, f"route {self._name!r}: field {field!r} {problem}")

    def optional_text(self, field: str) -> str | None:
        value = self._entry.get(field)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(field, "must be a non-empty string")
        return value.strip()

    def required_text(self, field: str) -> str:
        value = self.optional_text(field)
        if value is None:
            raise self.error(field, "is required")
        return value

    def url(self, field: str, *, required: bool) -> str | None:
        value = self.optional_text(field)
        if value is None:
            if required:
                raise self.error(field, "is required: the API's base URL with its version path")
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise self.error(field, "must be an http(s) URL such as https://api.deepseek.com/v1")
        return value.rstrip("/")

    def texts(self, field: str, *, unique: bool = False) -> tuple[str, ...]:
        value = self._entry.get(field, [])
        if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
            raise self.error(field, "must be a list of non-empty strings")
        texts = tuple(item.strip() for item in value)
        repeated = [text for index, text in enumerate(texts) if text in texts[:index]]
        if unique and repeated:  # fallbacks = ["b", "b"] would call a failing route twice
            raise self.error(field, f"names {repeated[0]!r} more than once")
        return texts

    def keywords(self) -> tuple[str, ...]:
        keywords = self.texts("keywords")
        for keyword in keywords:
            if len(keyword) > MAX_KEYWORD_CHARS:
                raise self.error(
                    "keywords", f"has {keyword[:20]!r}..., longer than {MAX_KEYWORD_CHARS} characters"
                )
        return keywords

    def count(self, field: str) -> int | None:
        value = self._entry.get(field)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.error(field, f"must be a whole number of tokens (0 or more), got {value!r}")
        return value

    def price(self, field: str) -> float | None:
        value = self._entry.get(field)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1000:
            raise self.error(field, f"must be a USD price per 1,000 tokens (0 or more), got {value!r}")
        return float(value)


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

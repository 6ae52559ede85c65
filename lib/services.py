"""The composition root: builds the per-container clients once, from validated settings.

This is the only module that reads the environment (through `load_settings`) or creates AWS and
HTTP clients; everything else receives them. Tests call `reset()` between cases.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import requests
from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from lib.callers.identity import CallerResolver
from lib.callers.limits import Limiter
from lib.keys.secret_keys import SecretKeySource, SecretValueError, parse_secret_value
from lib.keys.sources import KeySource, MissingKeySource, StaticKeySource
from lib.platform.config import ConfigError, Settings, load_rotation_settings, load_settings
from lib.platform.errors import NotConfigured
from lib.platform.route_table import Route, RouteTable, load_route_table, single_model_table
from lib.platform.store import REQUEST_CALL_LIMIT_S, KeyRecords, Table
from lib.providers import PROVIDERS, ProviderContext, create_provider
from lib.routing.breaker import CircuitBreaker
from lib.routing.choice import RouteChooser
from lib.routing.dispatch import Dispatcher
from lib.routing.quotas import FreeQuotas
from lib.stages.cache import ResponseCache
from lib.stages.context import Services
from lib.stages.stored_responses import ResponseStore

if TYPE_CHECKING:
    from lib.rotation.steps import Rotation

logger = Logger(child=True)


_services: Services | None = None
_session: requests.Session | None = None


def get_services() -> Services:
    """The container's services, built on first use. Bad configuration is a 503 naming the variable."""
    global _services
    if _services is None:
        try:
            settings = load_settings()
        except ConfigError as exc:
            raise NotConfigured(f"the gateway is misconfigured: {exc}") from None
        try:
            _services = build_services(settings)
        except ConfigError as exc:
            raise NotConfigured(f"the gateway is misconfigured: {exc}") from None
        except BotoCoreError as exc:  # e.g. NoRegionError outside Lambda
            raise NotConfigured(
                f"AWS clients could not be created ({type(exc).__name__}): set AWS_REGION"
            ) from None
    return _services


def build_services(
    settings: Settings, dynamodb_client: Any = None, environ: Mapping[str, str] | None = None
) -> Services:
    """Every per-container object. Raises ConfigError for a bad routes file (a 503 naming it)."""
    environ = os.environ if environ is None else environ
    table = None
    if settings.table_name:
        client = dynamodb_client or _aws_client("dynamodb")
        table = Table(client, settings.table_name, call_limit_s=REQUEST_CALL_LIMIT_S)
    else:
        logger.warning("TABLE_NAME is not set: no rate limits, budgets or client keys (AUTH_MODE=none)")
    routes = build_route_table(settings, environ)
    context = ProviderContext(
        session=http_session(),
        max_retries=settings.max_retries,
        max_response_bytes=settings.max_response_bytes,
        aws_client=_aws_client,
    )
    key_sources = _KeySources(settings, environ)
    providers = {
        route.name: create_provider(route, key_sources.for_route(route, routes), context)
        for route in routes.routes.values()
    }
    breakers = {
        name: CircuitBreaker(
            name,
            failure_rate=settings.breaker_failure_rate,
            window_s=settings.breaker_window_s,
            min_calls=settings.breaker_min_calls,
            cooldown_s=settings.breaker_cooldown_s,
            on_change=_log_breaker_change,
        )
        for name in routes.routes
    }
    quotas = FreeQuotas(table, settings.zero_cost, on_store_error=_log_store_error)
    return Services(
        settings=settings,
        routes=routes,
        chooser=RouteChooser(routes),
        providers=providers,
        dispatcher=Dispatcher(providers, breakers, quotas),
        quotas=quotas,
        callers=CallerResolver(settings, KeyRecords(table) if table else None),
        limiter=Limiter(table, settings, on_store_error=_log_store_error),
        cache=ResponseCache(table, settings, on_store_error=_log_store_error),
        responses=ResponseStore(table, settings, on_store_error=_log_store_error),
    )


# The variables of the single-model route, which a routes file overrides (also named by `make run`).
SINGLE_MODEL_VARIABLES = (
    "AI_MODEL_ENDPOINT",
    "AI_MODEL_NAME",
    "AI_MODEL_API_KEY",
    "AI_MODEL_SECRET_ID",
    "AI_MODEL_FALLBACK_ENDPOINT",
)


def single_model_variables_set(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The single-model variables `environ` sets: with ROUTES_FILE, the ones it ignores."""
    return tuple(name for name in SINGLE_MODEL_VARIABLES if environ.get(name))


def build_route_table(settings: Settings, environ: Mapping[str, str]) -> RouteTable:
    """ROUTES_FILE, or the one route the single-model variables describe."""
    if not settings.routes_file:
        return single_model_table(settings)
    ignored = single_model_variables_set(environ)
    if ignored:
        logger.warning(
            "ROUTES_FILE is set, so these variables are ignored", extra={"ignored_variables": list(ignored)}
        )
    return load_route_table(settings.routes_file, PROVIDERS, settings.bedrock_model_ids)


class _KeySources:
    """Each route's key source, from its `key` (env:, ssm:, secret:), sharing one store client each."""

    def __init__(self, settings: Settings, environ: Mapping[str, str]) -> None:
        self._settings = settings
        self._environ = environ
        self._providers: dict[str, Any] = {}

    def for_route(self, route: Route, routes: RouteTable) -> KeySource | None:
        if not routes.from_file:
            return build_key_source(self._settings)
        if route.key is None:
            return None
        scheme, _, reference = route.key.partition(":")
        label = f"route {route.name!r} key {route.key}"
        if scheme == "env":
            value = (self._environ.get(reference) or "").strip()
            if not value:
                return MissingKeySource(
                    f"route {route.name!r}: the environment variable {reference} is not set"
                )
            return StaticKeySource(value)
        ssm = scheme == "ssm"
        return SecretKeySource(
            self._store("ssm" if ssm else "secretsmanager"),
            reference,
            self._settings.secret_max_age_s,
            ssm=ssm,
            label=label,
        )

    def _store(self, service: str) -> Any:
        if service not in self._providers:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider, SSMProvider

            provider_class = SSMProvider if service == "ssm" else SecretsProvider
            self._providers[service] = provider_class(boto3_client=_aws_client(service))
        return self._providers[service]


def build_key_source(settings: Settings, client: Any = None) -> KeySource:
    """AI_MODEL_SECRET_ID (Secrets Manager or SSM, cached `secret_max_age_s`), else AI_MODEL_API_KEY."""
    if not settings.model_secret_id:
        return StaticKeySource(settings.model_api_key)
    from aws_lambda_powertools.utilities.parameters import SecretsProvider, SSMProvider

    ssm = settings.key_store == "ssm"
    provider_class = SSMProvider if ssm else SecretsProvider
    provider = provider_class(boto3_client=client or _aws_client("ssm" if ssm else "secretsmanager"))
    return SecretKeySource(provider, settings.model_secret_id, settings.secret_max_age_s, ssm=ssm)


def rotate(event: Mapping[str, Any], request_id: str | None) -> dict[str, str]:
    """The rotation function's one call. A failure is logged and raised: raising fails the step, so
    Secrets Manager retries it, and nothing so far touched AWSCURRENT (finishSecret says so itself)."""
    # Imported here: the API function never rotates, and its cold start should not pay for it.
    from lib.rotation.steps import RotationError, handle

    try:
        return handle(event, build_rotation(), request_id=request_id)
    except RotationError as exc:
        logger.error("rotation failed; the current key is unchanged", extra={"reason": str(exc)})
        raise


def build_rotation(environ: Any = None) -> Rotation:
    """The rotation function's dependencies, from its environment."""
    # Imported here: the API function never rotates, and its cold start should not pay for it.
    from lib.rotation.errors import RotationError
    from lib.rotation.issuers import IssuerError, KeyIssuer, KeyPoolIssuer, OpenAIServiceAccountIssuer
    from lib.rotation.key_check import key_tester
    from lib.rotation.steps import Rotation

    try:
        settings = load_rotation_settings(environ)
    except ConfigError as exc:
        raise RotationError(f"the rotation function is misconfigured: {exc}") from None
    ssm = settings.key_store == "ssm"

    def issuer() -> KeyIssuer:
        if settings.issuer == "pool":
            return KeyPoolIssuer()
        assert (
            settings.openai_project_id and settings.openai_admin_key_secret_id
        )  # load_rotation_settings checks
        try:
            secret = _aws_client("secretsmanager").get_secret_value(
                SecretId=settings.openai_admin_key_secret_id
            )
            admin_key = str(parse_secret_value(secret.get("SecretString"))["api_key"])
        except (ClientError, BotoCoreError, SecretValueError) as exc:
            raise IssuerError(
                f"the admin key in OPENAI_ADMIN_KEY_SECRET_ID could not be read ({type(exc).__name__})"
            ) from None
        return OpenAIServiceAccountIssuer(
            http_session(), settings.openai_admin_base_url, settings.openai_project_id, admin_key
        )

    assert settings.model_endpoint  # load_rotation_settings checks
    return Rotation(
        secret_id=settings.secret_id,
        key_store=settings.key_store,
        client=_aws_client("ssm" if ssm else "secretsmanager"),
        issuer=issuer,
        tester=key_tester(settings.model_endpoint, http_session(), settings.test_timeout_s),
        tester_for=lambda provider, endpoint: key_tester(
            endpoint, http_session(), settings.test_timeout_s, _wire_format(provider)
        ),
    )


def _wire_format(provider: str) -> Any:
    from lib.rotation.errors import RotationError  # the rotation function's only (see build_rotation)

    if provider not in PROVIDERS:
        raise RotationError(f"unknown provider {provider!r}; expected one of {', '.join(sorted(PROVIDERS))}")
    return PROVIDERS[provider]


def http_session() -> requests.Session:
    """One session per container: upstream connections (and TLS handshakes) are reused across requests."""
    global _session
    if _session is None:
        _session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
        _session.mount("https://", adapter)
        _session.mount("http://", adapter)
    return _session


def reset() -> None:
    """Forget the built services (tests; a new configuration)."""
    global _services
    _services = None


def _aws_client(service: str) -> Any:
    import boto3  # deferred: the Lambda runtime's boto3 import is the largest part of a cold start
    from botocore.config import Config

    # Short timeouts and few retries: the store sits on every request's path.
    config = Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 2, "mode": "standard"})
    return boto3.client(service, config=config)


def _log_breaker_change(route: str, old: str, new: str) -> None:
    logger.warning("circuit breaker", extra={"breaker_route": route, "from_state": old, "to_state": new})


def _log_store_error(message: str) -> None:
    logger.warning("store error", extra={"store_error": message})

"""The composition root: builds the per-container clients once, from validated settings.

This is the only module that reads the environment (through `load_settings`) or creates AWS and
HTTP clients; everything else receives them. Tests call `reset()` between cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from lib.callers import CallerResolver
from lib.config import ConfigError, Settings, load_rotation_settings, load_settings
from lib.errors import NotConfigured
from lib.key_issuers import IssuerError, KeyIssuer, KeyPoolIssuer, OpenAIServiceAccountIssuer
from lib.limits import Limiter
from lib.provider_keys import StaticKeySource
from lib.rotation import Rotation, RotationError, key_tester
from lib.secret_keys import SecretKeySource, SecretValueError, parse_secret_value
from lib.store import KeyRecords, Table
from lib.upstream import KeySource, UpstreamClient

logger = Logger(child=True)


@dataclass
class Services:
    settings: Settings
    upstream: UpstreamClient
    callers: CallerResolver
    limiter: Limiter


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
        except BotoCoreError as exc:  # e.g. NoRegionError outside Lambda
            raise NotConfigured(
                f"AWS clients could not be created ({type(exc).__name__}): set AWS_REGION"
            ) from None
    return _services


def build_services(settings: Settings, dynamodb_client: Any = None) -> Services:
    table = None
    if settings.table_name:
        client = dynamodb_client or _aws_client("dynamodb")
        table = Table(client, settings.table_name)
    else:
        logger.warning("TABLE_NAME is not set: no rate limits, budgets or client keys (AUTH_MODE=none)")
    upstream = UpstreamClient(
        settings.upstream_endpoints,
        build_key_source(settings),
        http_session(),
        max_retries=settings.max_retries,
        max_response_bytes=settings.max_response_bytes,
    )
    return Services(
        settings=settings,
        upstream=upstream,
        callers=CallerResolver(settings, KeyRecords(table) if table else None),
        limiter=Limiter(table, settings, on_store_error=_log_store_error),
    )


def build_key_source(settings: Settings, client: Any = None) -> KeySource:
    """AI_MODEL_SECRET_ID (Secrets Manager or SSM, cached `secret_max_age_s`), else AI_MODEL_API_KEY."""
    if not settings.model_secret_id:
        return StaticKeySource(settings.model_api_key)
    from aws_lambda_powertools.utilities.parameters import SecretsProvider, SSMProvider

    ssm = settings.key_store == "ssm"
    provider_class = SSMProvider if ssm else SecretsProvider
    provider = provider_class(boto3_client=client or _aws_client("ssm" if ssm else "secretsmanager"))
    return SecretKeySource(provider, settings.model_secret_id, settings.secret_max_age_s, ssm=ssm)


def build_rotation(environ: Any = None) -> Rotation:
    """The rotation function's dependencies, from its environment."""
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
    )


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


def _log_store_error(message: str) -> None:
    logger.warning("store error", extra={"store_error": message})

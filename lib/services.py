"""The composition root: builds the per-container clients once, from validated settings.

This is the only module that reads the environment (through `load_settings`) or creates AWS and
HTTP clients; everything else receives them. Tests call `reset()` between cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from aws_lambda_powertools import Logger

from lib.callers import CallerResolver
from lib.config import ConfigError, Settings, load_settings
from lib.errors import NotConfigured
from lib.limits import Limiter
from lib.provider_keys import StaticKeySource
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
        _services = build_services(settings)
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


def build_key_source(settings: Settings) -> KeySource:
    return StaticKeySource(settings.model_api_key)


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

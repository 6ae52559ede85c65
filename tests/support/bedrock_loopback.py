"""The registered Bedrock provider, built as the gateway builds it, talking to a loopback server."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from lib.platform.route_table import Route
from lib.providers import PROVIDERS
from lib.providers.base import ProviderContext


def bedrock_provider(route: Route, base_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`PROVIDERS["bedrock"].create(...)`, with boto3's bedrock-runtime endpoint at `base_url`."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", base_url.removesuffix("/v1"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return PROVIDERS["bedrock"].create(
        route, None, ProviderContext(session=requests.Session(), max_retries=2)
    )

"""The registered Bedrock provider, built as the gateway builds it, talking to a loopback server, and
Converse's answers as that server sends them."""

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


def converse_answer(
    *blocks: dict[str, Any], stop_reason: str = "end_turn", input_tokens: int = 12, output_tokens: int = 5
) -> dict[str, Any]:
    """Converse's answer holding `blocks` (`{"text": ...}`, `{"toolUse": ...}`), with its usage."""
    return {
        "output": {"message": {"role": "assistant", "content": list(blocks)}},
        "stopReason": stop_reason,
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        },
        "metrics": {"latencyMs": 120},
    }

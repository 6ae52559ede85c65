"""The registered Bedrock provider, built as the gateway builds it, talking to a loopback server, and
Converse's answers as that server sends them."""

from __future__ import annotations

from pathlib import Path
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


def serve_routes(
    gateway_env: pytest.MonkeyPatch, tmp_path: Path, text: str, bedrock_url: str, model_ids: str
) -> None:
    """ROUTES_FILE from `text`: its Bedrock routes (`model_ids`, as BEDROCK_MODEL_IDS) answered by the
    loopback server at `bedrock_url`, its other routes' key in GENERAL_KEY; one retry per call."""
    from lib import services

    routes = tmp_path / "routes.toml"
    routes.write_text(text, encoding="utf-8")
    gateway_env.setenv("ROUTES_FILE", str(routes))
    gateway_env.setenv("BEDROCK_MODEL_IDS", model_ids)
    gateway_env.setenv("GENERAL_KEY", "sk-general-route-key-0123456789")
    gateway_env.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", bedrock_url.removesuffix("/v1"))
    gateway_env.setenv("AI_MODEL_MAX_RETRIES", "1")
    services.reset()


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

"""Model APIs by wire format, one module each. A new provider is one module and one line here.

Each module has `create(route, key_source, context) -> Provider`; HTTP ones also describe their wire
format (see lib/providers/base.py) and `KEY_CHECK_PATH`, the call rotation uses to test a new key.
"""

from __future__ import annotations

from typing import Protocol

from lib.providers import anthropic, bedrock, openai
from lib.providers.base import Provider, ProviderContext
from lib.route_table import Route
from lib.upstream import KeySource


class ProviderModule(Protocol):
    # Whether the API returns the same answer for the same `seed` (CACHE_MODE=seeded caches only then).
    HONOURS_SEED: bool

    def create(self, route: Route, key_source: KeySource | None, context: ProviderContext) -> Provider: ...


PROVIDERS: dict[str, ProviderModule] = {
    "openai": openai,
    "bedrock": bedrock,
    "anthropic": anthropic,
}


def honours_seed(provider: str) -> bool:
    return PROVIDERS[provider].HONOURS_SEED


__all__ = ["PROVIDERS", "Provider", "ProviderContext", "ProviderModule", "honours_seed"]

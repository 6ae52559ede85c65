"""Model APIs by wire format, one module each. A new provider is one module and one line here.

Each module has `create(route, key_source, context) -> Provider`; HTTP ones also describe their wire
format (see lib/providers/base.py) and `KEY_CHECK_PATH`, the call rotation uses to test a new key.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Protocol, cast

from lib.providers.base import Provider, ProviderContext
from lib.route_table import Route
from lib.upstream import KeySource


class ProviderModule(Protocol):
    # Whether the API returns the same answer for the same `seed` (CACHE_MODE=seeded caches only then).
    HONOURS_SEED: bool

    def create(self, route: Route, key_source: KeySource | None, context: ProviderContext) -> Provider: ...


class _ImportedOnUse(Mapping[str, ProviderModule]):
    """Provider name -> its module, imported the first time a route uses it: a cold start loads only
    the wire formats its routes speak (most deployments need openai alone)."""

    def __init__(self, modules: Mapping[str, str]) -> None:
        self._modules = dict(modules)

    def __getitem__(self, name: str) -> ProviderModule:
        return cast(ProviderModule, importlib.import_module(self._modules[name]))

    def __contains__(self, name: object) -> bool:
        return name in self._modules

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)


PROVIDERS: Mapping[str, ProviderModule] = _ImportedOnUse(
    {
        "openai": "lib.providers.openai",
        "bedrock": "lib.providers.bedrock",
        "anthropic": "lib.providers.anthropic",
    }
)


def honours_seed(provider: str) -> bool:
    return PROVIDERS[provider].HONOURS_SEED


__all__ = ["PROVIDERS", "Provider", "ProviderContext", "ProviderModule", "honours_seed"]

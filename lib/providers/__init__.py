"""Model APIs by wire format, one module each. A new provider is one module and one line here.

Each module has `create(route, key_source, context) -> Provider`; HTTP ones also describe their wire
format (see lib/providers/base.py) and `KEY_CHECK_PATH`, the call rotation uses to test a new key.
The HTTP mechanics they share (`upstream*`, `socket_deadline`) live here too.

May import lib.keys, lib.core and lib.platform; no provider imports another.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Protocol, cast

from lib.keys.sources import KeySource
from lib.platform.route_table import Route
from lib.providers.base import Provider, ProviderContext


class ProviderModule(Protocol):
    # Whether the API returns the same answer for the same `seed` (CACHE_MODE=seeded caches only then).
    HONOURS_SEED: bool

    def create(self, route: Route, key_source: KeySource | None, context: ProviderContext) -> Provider: ...


class _ImportedOnUse(MutableMapping[str, ProviderModule]):
    """Provider name -> its module, imported the first time a route uses it: a cold start loads only
    the wire formats its routes speak (most deployments need openai alone). A module object may be
    set directly too (tests register stand-ins)."""

    def __init__(self, modules: Mapping[str, str]) -> None:
        self._modules: dict[str, str | ProviderModule] = dict(modules)

    def __getitem__(self, name: str) -> ProviderModule:
        module = self._modules[name]
        if isinstance(module, str):
            module = self._modules[name] = cast(ProviderModule, importlib.import_module(module))
        return module

    def __setitem__(self, name: str, module: ProviderModule) -> None:
        self._modules[name] = module

    def __delitem__(self, name: str) -> None:
        del self._modules[name]

    def __contains__(self, name: object) -> bool:
        return name in self._modules

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)


PROVIDERS: MutableMapping[str, ProviderModule] = _ImportedOnUse(
    {
        "openai": "lib.providers.openai",
        "bedrock": "lib.providers.bedrock",
        "anthropic": "lib.providers.anthropic",
    }
)


def create_provider(route: Route, key_source: KeySource | None, context: ProviderContext) -> Provider:
    """The route's provider; for an openai route that lists `apis = ["responses"]`, one that also
    passes Responses requests to the provider's own Responses API (lib/providers/openai_responses.py)."""
    provider = PROVIDERS[route.provider].create(route, key_source, context)
    if "responses" in route.apis:
        from lib.providers.base import HttpProvider
        from lib.providers.openai_responses import SpeaksResponses

        assert isinstance(provider, HttpProvider)
        return SpeaksResponses(provider)
    return provider


def honours_seed(provider: str) -> bool:
    return PROVIDERS[provider].HONOURS_SEED


__all__ = ["PROVIDERS", "Provider", "ProviderContext", "ProviderModule", "create_provider", "honours_seed"]

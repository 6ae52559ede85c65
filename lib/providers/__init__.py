"""Model APIs by wire format, one module each. A new provider is one module and one line here."""

from __future__ import annotations

from lib.providers import openai
from lib.providers.base import Provider, ProviderContext, ProviderFactory

PROVIDERS: dict[str, ProviderFactory] = {
    "openai": openai.create,
}

__all__ = ["PROVIDERS", "Provider", "ProviderContext", "ProviderFactory"]

"""Where the provider (model API) key comes from: the `KeySource` implementations.

`StaticKeySource` serves AI_MODEL_API_KEY for local use. The deployed stack reads the key from a
secret store instead (see `lib/keys/secret_keys.py`), so a rotated key is picked up without a redeploy.
"""

from __future__ import annotations

from typing import Protocol

from lib.platform.redaction import remember


class StaticKeySource:
    """A key fixed for the container's life (or none, for upstreams that need no key)."""

    def __init__(self, key: str | None) -> None:
        self._key = key
        remember(key)  # scrubbed from replies and logs from now on

    def get_key(self, *, refresh: bool = False) -> str | None:
        return self._key

    def __repr__(self) -> str:  # never print the key itself
        return f"StaticKeySource(key={'set' if self._key else 'unset'})"


class MissingKeySource:
    """A route's key that is not there (an unset variable): every use is a 503 that says which."""

    def __init__(self, message: str) -> None:
        self._message = message

    def get_key(self, *, refresh: bool = False) -> str | None:
        from lib.platform.errors import NotConfigured

        raise NotConfigured(self._message)


class KeySource(Protocol):
    """Where the provider key comes from. `refresh=True` bypasses any cache (after an upstream 401)."""

    def get_key(self, *, refresh: bool = False) -> str | None: ...

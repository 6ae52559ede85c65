"""Where the provider (model API) key comes from: the `KeySource` implementations.

`StaticKeySource` serves AI_MODEL_API_KEY for local use. The deployed stack reads the key from a
secret store instead (see `lib/keys/secret_keys.py`), so a rotated key is picked up without a redeploy.
"""

from __future__ import annotations


def header_problem(key: str) -> str | None:
    """Why `key` cannot be sent as `Authorization: Bearer <key>`, or None when it can.

    Provider keys are visible ASCII. A pasted ellipsis or curly quote (outside Latin-1) or a line
    break would otherwise fail inside the HTTP library on every request, as a 500.
    """
    for position, char in enumerate(key):
        if not "!" <= char <= "~":
            return (
                f"holds a character that cannot be sent in an HTTP header "
                f"(U+{ord(char):04X} at position {position + 1}; keys are visible ASCII)"
            )
    return None


class StaticKeySource:
    """A key fixed for the container's life (or none, for upstreams that need no key)."""

    def __init__(self, key: str | None) -> None:
        self._key = key

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

"""testSecret's check of a new key at its provider: the one place the rotation talks to a provider."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lib.keys.sources import StaticKeySource
from lib.platform.deadline import Deadline
from lib.platform.errors import GatewayError
from lib.providers.upstream import UpstreamClient
from lib.rotation.errors import RotationError


def key_tester(endpoint: str, session: Any, timeout_s: float, wire: Any = None) -> Callable[[str], None]:
    """testSecret's check: the key must list the provider's models (a call that spends no tokens), sent
    the way that provider takes a key (`wire`: a module of lib/providers/; OpenAI's by default)."""
    if wire is None:
        from lib.providers import openai as wire
    if not hasattr(wire, "KEY_CHECK_PATH"):
        raise RotationError("this provider has no key to test (it authenticates with the function's role)")

    def test(key: str) -> None:
        client = UpstreamClient(
            [endpoint],
            StaticKeySource(key),
            session,
            auth_headers=wire.auth_headers,
            extra_headers=dict(wire.EXTRA_HEADERS),
            max_retries=1,
        )
        try:
            client.call("GET", wire.KEY_CHECK_PATH, None, Deadline(timeout_s))
        except GatewayError as exc:
            raise RotationError(f"the new key did not work: {exc.message}") from None

    return test

"""Who is calling: a client key (stored only as its SHA-256) or, with AUTH_MODE=none, the source IP."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from lib.config import Settings
from lib.errors import StoreUnavailable, Unauthorized
from lib.store import StoreError

KEY_PREFIX = "mg-"
# Unknown keys are cached too (a flood of random keys must not become a flood of reads), so bound it.
CACHE_LIMIT = 4096
_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_\-\.]{16,200}$")


@dataclass(frozen=True)
class Caller:
    """A caller and its limits. `caller_id` is safe to log and store; the key itself never is."""

    caller_id: str
    name: str
    rpm: int
    burst: int
    daily_tokens: int
    enabled: bool = True


def new_client_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def caller_id_for_hash(key_hash: str) -> str:
    """A short, stable, non-secret id for logs and limits (a prefix of the hash, not of the key)."""
    return "key_" + key_hash[:12]


class KeyDirectory(Protocol):
    def find_key(self, key_hash: str) -> Mapping[str, Any] | None: ...


def client_key_from(headers: Mapping[str, str]) -> str | None:
    """The key from `Authorization: Bearer ...` (what the openai SDK sends) or `x-api-key`.

    Raises 401 for a malformed header, so a typo is reported as such and not as an unknown key.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    authorization = lowered.get("authorization")
    if authorization is not None:
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise Unauthorized("malformed Authorization header: expected 'Bearer <key>'")
        key = credentials.strip()
    else:
        key = (lowered.get("x-api-key") or "").strip()
        if not key:
            return None
    if not _KEY_PATTERN.match(key):
        raise Unauthorized("malformed client key")
    return key


class CallerResolver:
    """Maps a request to a `Caller`. Key lookups are cached in memory for CALLER_CACHE_TTL_S."""

    def __init__(
        self,
        settings: Settings,
        directory: KeyDirectory | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._directory = directory
        self._clock = clock
        self._cache: dict[str, tuple[float, Caller | None]] = {}

    def identify(self, headers: Mapping[str, str], source_ip: str | None) -> Caller:
        if self._settings.auth_mode == "none":
            return self._defaults("ip_" + hash_key(source_ip or "unknown")[:12], "anonymous")
        key = client_key_from(headers)
        if key is None:
            raise Unauthorized("missing client key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'")
        caller = self._lookup(hash_key(key))
        if caller is None:
            raise Unauthorized("unknown client key")
        if not caller.enabled:
            raise Unauthorized("this client key is disabled", code="key_disabled")
        return caller

    def _lookup(self, key_hash: str) -> Caller | None:
        now = self._clock()
        cached = self._cache.get(key_hash)
        if cached is not None and cached[0] > now:
            return cached[1]
        if self._directory is None:
            raise StoreUnavailable("client keys are not configured: set TABLE_NAME")
        try:
            item = self._directory.find_key(key_hash)
        except StoreError:
            if cached is not None:
                return cached[1]  # known before the table went away: keep serving on what we knew
            raise StoreUnavailable(
                "client keys cannot be checked right now; try again shortly", retry_after_s=1
            ) from None
        caller = self._from_item(key_hash, item) if item is not None else None
        if self._settings.caller_cache_s > 0:
            if key_hash not in self._cache and len(self._cache) >= CACHE_LIMIT:
                self._cache.pop(next(iter(self._cache)))  # the oldest entry
            self._cache[key_hash] = (now + self._settings.caller_cache_s, caller)
        return caller

    def _from_item(self, key_hash: str, item: Mapping[str, Any]) -> Caller:
        settings = self._settings
        return Caller(
            caller_id=caller_id_for_hash(key_hash),
            name=str(item.get("name", "")),
            rpm=int(item.get("rpm") or settings.rate_limit_rpm),
            burst=int(item.get("burst") or settings.rate_limit_burst),
            daily_tokens=int(item.get("daily_tokens") or settings.daily_token_budget),
            enabled=bool(item.get("enabled", True)),
        )

    def _defaults(self, caller_id: str, name: str) -> Caller:
        settings = self._settings
        return Caller(
            caller_id, name, settings.rate_limit_rpm, settings.rate_limit_burst, settings.daily_token_budget
        )

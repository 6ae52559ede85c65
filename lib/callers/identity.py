"""Who is calling: a client key (stored only as its SHA-256) or, with AUTH_MODE=none, the source IP."""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol

from lib.platform.bounded import LruDict
from lib.platform.config import Settings
from lib.platform.errors import RateLimited, StoreUnavailable, Unauthorized
from lib.platform.store import StoreError

KEY_PREFIX = "mg-"
# Known and unknown keys are cached apart, each bounded: a flood of random keys must become neither a
# flood of reads nor a way to push a legitimate key out of the cache.
CACHE_LIMIT = 4096
# Source addresses whose failed authentications this container counts.
ADDRESS_LIMIT = 4096
AUTH_FAILURE_WINDOW_S = 60.0
_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_\-\.]{16,200}$")


class Caller(NamedTuple):
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
        self._known: LruDict[str, tuple[float, Caller]] = LruDict(CACHE_LIMIT)
        self._unknown: LruDict[str, float] = LruDict(CACHE_LIMIT)
        self._failures = AuthFailures(settings.auth_failures_per_minute, clock)

    def identify(self, headers: Mapping[str, str], source_ip: str | None) -> Caller:
        if self._settings.auth_mode == "none":
            return self._defaults("ip_" + hash_key(source_ip or "unknown")[:12], "anonymous")
        address = source_ip or "unknown"
        self._failures.check(address)
        try:
            return self._authenticate(headers)
        except Unauthorized:
            self._failures.record(address)
            raise

    def _authenticate(self, headers: Mapping[str, str]) -> Caller:
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
        known = self._known.get(key_hash)
        if known is not None and known[0] > now:
            return known[1]
        unknown_until = self._unknown.get(key_hash)
        if unknown_until is not None and unknown_until > now:
            return None
        if self._directory is None:
            raise StoreUnavailable("client keys are not configured: set TABLE_NAME")
        try:
            item = self._directory.find_key(key_hash)
        except StoreError:
            if known is not None:
                return known[1]  # known before the table went away: keep serving on what we knew
            raise StoreUnavailable(
                "client keys cannot be checked right now; try again shortly", retry_after_s=1
            ) from None
        caller = self._from_item(key_hash, item) if item is not None else None
        if self._settings.caller_cache_s > 0:
            expires_at = now + self._settings.caller_cache_s
            if caller is None:
                self._known.pop(key_hash)
                self._unknown.put(key_hash, expires_at)
            else:
                self._unknown.pop(key_hash)
                self._known.put(key_hash, (expires_at, caller))
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


class AuthFailures:
    """Failed authentications per source address, counted in this container's memory.

    Guessing keys costs a table read per guess and fills the unknown-key cache; past the limit an
    address gets 429 for the rest of its minute, before any read. No table write: a counter in the
    table would turn every guess into a paid write. Each container counts alone, so the effective
    limit is this times the warm containers (API Gateway's throttle bounds those).
    """

    def __init__(self, limit_per_minute: int, clock: Callable[[], float]) -> None:
        self._limit = limit_per_minute
        self._clock = clock
        self._windows: LruDict[str, tuple[float, int]] = LruDict(ADDRESS_LIMIT)

    def check(self, address: str) -> None:
        window = self._windows.get(address)
        if window is None:
            return
        started, count = window
        left_s = started + AUTH_FAILURE_WINDOW_S - self._clock()
        if left_s > 0 and count >= self._limit:
            raise RateLimited(
                "too many failed authentications from this address; check the client key",
                code="too_many_auth_failures",
                retry_after_s=max(1, math.ceil(left_s)),
            )

    def record(self, address: str) -> None:
        now = self._clock()
        window = self._windows.get(address)
        if window is None or now - window[0] >= AUTH_FAILURE_WINDOW_S:
            self._windows.put(address, (now, 1))
        else:
            self._windows.put(address, (window[0], window[1] + 1))

"""The exact response cache: reproducible answers kept in the one table, so a repeat costs no model call.

Policy (`CACHE_MODE`): `seeded` (default) caches a request that sent a `seed` to a route whose wire
format honours it (`HONOURS_SEED` in its module under lib/providers/); `all` caches every request;
`off` caches nothing. Embeddings are kept unless it is `off` (the same text, the same vector).
The key is a hash of everything that changes the answer: the route (its name,
provider and endpoints), the upstream model, the system prompt, the messages or prompt and every
parameter sent upstream. Entries are per caller (`CACHE_SCOPE=caller`), so a hit never tells one caller
what another asked; `CACHE_SCOPE=shared` lets callers share them.

An entry is one item (pk="CACHE"), written after a miss with `expires_at` (`CACHE_TTL_S`); an entry
past it is a miss even while the store still holds it (TTL deletion is late, or never on emulators).
Answers too large for one item are not cached. A store failure is a miss (or an answer not kept):
the cache never fails a request, nor costs it more than one wait: once a store call has failed in a
request (its admission, the cache read, a free allowance), its remaining cache calls are skipped.

The caller's headers (`cache_directives`): `Cache-Control: no-cache` (or HTTP/1.0's `Pragma: no-cache`)
answers from the model and refreshes the entry; `Cache-Control: no-store` neither reads nor writes it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from lib.core.answer import Usage
from lib.core.request import ModelRequest
from lib.platform.config import Settings
from lib.platform.route_table import Route
from lib.platform.store import CACHE_PARTITION, StoreError, Table
from lib.providers import honours_seed

if TYPE_CHECKING:
    from lib.stages.telemetry import RequestRecord

# DynamoDB caps an item at 400 KB; the body gets what the key and the other attributes leave.
MAX_BODY_BYTES = 380 * 1024


class Cached(NamedTuple):
    body: dict[str, Any]
    usage: Usage


class Lookup(NamedTuple):
    answer: Cached | None
    store_failed: bool = False


def is_cacheable(request: ModelRequest, route: Route, mode: str) -> bool:
    """Whether the answer is meant to be reproducible, by the configured policy. Embeddings are
    (the same text, the same vector): kept unless the cache is off."""
    if mode == "all" or (request.kind == "embeddings" and mode != "off"):
        return True
    if mode == "seeded":
        return request.seed is not None and honours_seed(route.provider)
    return False


def cache_key(request: ModelRequest, route: Route, settings: Settings, caller_id: str) -> str:
    """A hash of everything that changes the answer (and of the caller, unless entries are shared).

    `stream` and `stream_options` are left out: they change how an answer is sent, not the answer.
    """
    material = {
        "scope": caller_id if settings.cache_scope == "caller" else "*",
        "route": [route.name, route.provider, list(route.endpoints)],
        "upstream_model": route.upstream_model(request.model),
        "system_prompt": settings.system_prompt,
        "kind": request.kind,
        "messages": list(request.messages),
        "prompt": request.prompt,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "seed": request.seed,
        "extra": dict(request.extra),
    }
    if request.native is not None:  # passed through as the caller wrote it: all of it shapes the answer
        material["native"] = {"api": request.native.api, "body": dict(request.native.body)}
    canonical = json.dumps(material, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8", errors="surrogatepass")).hexdigest()


class ResponseCache:
    def __init__(
        self,
        table: Table | None,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        on_store_error: Callable[[str], None] | None = None,
    ) -> None:
        self._table = table
        self._settings = settings
        self._clock = clock
        self._on_store_error = on_store_error or (lambda _message: None)

    def key_for(self, request: ModelRequest, route: Route, caller_id: str) -> str | None:
        """The entry's key, or None when this request is not to be cached (no table, or the policy)."""
        if self._table is None or not is_cacheable(request, route, self._settings.cache_mode):
            return None
        return cache_key(request, route, self._settings, caller_id)

    def get(self, key: str) -> Lookup:
        """The stored answer, unless absent, expired or unreadable (one eventually consistent read)."""
        assert self._table is not None  # key_for gives no key without a table
        try:
            item = self._table.get({"pk": CACHE_PARTITION, "sk": key}, consistent=False)
        except StoreError as exc:
            self._on_store_error(str(exc))
            return Lookup(None, store_failed=True)
        if item is None or int(item.get("expires_at", 0)) <= self._clock():
            return Lookup(None)
        try:
            body = json.loads(item["body"])
            usage = Usage(
                int(item["prompt_tokens"]), int(item["completion_tokens"]), bool(item.get("estimated"))
            )
        except (KeyError, TypeError, ValueError):
            return Lookup(None)  # an entry written by another version: a miss, replaced after the call
        return Lookup(Cached(body, usage) if isinstance(body, dict) else None)

    def put(self, key: str, body: Mapping[str, Any], usage: Usage) -> bool:
        """Keep an answer for CACHE_TTL_S; False only when the store failed (too large: not kept)."""
        assert self._table is not None
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        if len(text.encode("utf-8", errors="surrogatepass")) > MAX_BODY_BYTES:
            return True
        now = int(self._clock())
        attributes = {
            "body": text,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "estimated": usage.estimated,
            "created_at": now,
            "expires_at": now + self._settings.cache_ttl_s,
        }
        try:
            self._table.put({"pk": CACHE_PARTITION, "sk": key}, attributes)
        except StoreError as exc:
            self._on_store_error(str(exc))
            return False
        return True


class CacheDirectives(NamedTuple):
    """What the caller's request headers let the cache do for this request."""

    read: bool = True  # answer from a stored entry
    write: bool = True  # keep this answer for the next request


# What a request without cache headers gets: the cache as CACHE_MODE configures it.
DEFAULT_DIRECTIVES = CacheDirectives()


def cache_directives(headers: Mapping[str, str]) -> CacheDirectives:
    """`Cache-Control: no-store`: neither read nor write; `no-cache`, or `Pragma: no-cache` (what HTTP/1.0
    clients and proxies send for it): answer from the model, and refresh the entry."""
    control = _directives(headers, "cache-control")
    if "no-store" in control:
        return CacheDirectives(read=False, write=False)
    if "no-cache" in control or "no-cache" in _directives(headers, "pragma"):
        return CacheDirectives(read=False, write=True)
    return DEFAULT_DIRECTIVES


def _directives(headers: Mapping[str, str], wanted: str) -> set[str]:
    """The directive names of a header (`no-cache="set-cookie"` counts as `no-cache`), lower-cased."""
    values = (text for name, text in headers.items() if name.lower() == wanted)
    return {part.partition("=")[0].strip().lower() for value in values for part in value.split(",")}


def store_failed_in(record: RequestRecord) -> bool:
    """Whether a store call already failed in this request (admission, cache read, free allowance).
    The cache is optional: its calls are then skipped, so a frozen store costs the request no more
    waits than the admission and the settlement (docs/reliability.md)."""
    trace = record.routes
    return record.store_failures > 0 or (trace is not None and trace.quota_store_failures > 0)

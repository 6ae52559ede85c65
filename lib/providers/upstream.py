"""The HTTP call to an OpenAI-compatible model API: one deadline, retries with backoff, a fallback.

Rules, in order of precedence:
- One `Deadline` covers the whole call, retries and fallback included. No socket wait and no backoff
  sleep goes past it: each network read gets the time that is left, and a backoff that would end
  after the deadline is not slept.
- Connection errors, timeouts, 429 and 5xx are retried (up to `max_retries`) with exponential
  backoff and jitter, or after the upstream's `Retry-After` when it sends one.
- 401 re-reads the provider key once, bypassing any cache (a rotated key), and tries again.
- When the primary endpoint gives up, the fallback endpoint (if any) gets the same treatment.
- Failures become `UpstreamError` (502) or `UpstreamTimeout` (504) with messages that hold neither
  the provider key nor the upstream's body.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import requests

from lib.keys.sources import KeySource
from lib.platform.deadline import Deadline
from lib.platform.errors import NotConfigured, UpstreamError, UpstreamRejected, UpstreamTimeout
from lib.providers import socket_deadline
from lib.providers.call_stats import CallStats
from lib.providers.upstream_body import AttemptFailed, json_object, read_body, refusal_signal
from lib.providers.upstream_signals import (
    backoff_delay,
    retry_after_s,
)
from lib.providers.upstream_stream import EventStream, StreamFault, StreamLimits

_CONNECT_TIMEOUT_CAP_S = 5.0
# What a model API answers when the request itself will not do (too long a context, a parameter it
# does not take): UpstreamRejected, the caller's 400. A 404 is the caller's only when it says the model
# is unknown and the route passes the caller's model on; otherwise it is a wrong endpoint path or a
# route's model id. That, 403 (a key without the right) and the rest stay 502s: the deployment's, seen
# by the circuit breaker and the error alarm.
REFUSED_REQUEST_STATUSES = frozenset({400, 413, 422})
UNKNOWN_MODEL_KINDS = frozenset({"model_not_found"})


class _KeyRejected(Exception):
    pass


def bearer_auth(key: str) -> dict[str, str]:
    """OpenAI's (and most providers') way of sending the key."""
    return {"Authorization": f"Bearer {key}"}


class UpstreamClient:
    """The HTTP mechanics every HTTP provider shares; one client per route (its endpoints, its key)."""

    def __init__(
        self,
        endpoints: Sequence[str],
        key_source: KeySource,
        session: requests.Session,
        *,
        auth_headers: Callable[[str], dict[str, str]] = bearer_auth,
        extra_headers: dict[str, str] | None = None,
        max_retries: int = 3,
        max_response_bytes: int = 2 * 1024 * 1024,
        backoff_base_s: float = 0.25,
        backoff_cap_s: float = 4.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
        caller_names_model: bool = False,
    ) -> None:
        self.endpoints = tuple(endpoints)
        self._caller_names_model = caller_names_model  # the route passes the caller's `model` on
        self._key_source = key_source
        self._auth_headers = auth_headers
        self._extra_headers = dict(extra_headers or {})
        self._session = session
        self._max_retries = max_retries
        self._max_response_bytes = max_response_bytes
        self._backoff_base_s = backoff_base_s
        self._backoff_cap_s = backoff_cap_s
        self._sleep = sleep
        self._jitter = jitter
        self._clock = clock

    def call(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None,
        deadline: Deadline,
        stats: CallStats | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send `payload` to `path` under each endpoint in turn; return the first JSON object answer.
        `headers` are this request's own, beside the wire format's (a caller's beta flags)."""
        answer: dict[str, Any] = self._call(method, path, payload, deadline, stats, None, headers)
        return answer

    def open_stream(
        self,
        path: str,
        payload: dict[str, Any],
        deadline: Deadline,
        stats: CallStats,
        limits: StreamLimits,
        headers: Mapping[str, str] | None = None,
    ) -> EventStream:
        """POST for a server-sent event stream; return it once its first event has arrived.

        Until then everything is as for `call` (the deadline, retries, the fallback endpoint): the
        caller has received nothing yet. After it, `limits` bound the idle gaps and the whole stream."""

        def first_event(response: requests.Response, deadline: Deadline, stats: CallStats) -> EventStream:
            stream = EventStream(response, limits, self._max_response_bytes)
            try:
                stream.prefetch(deadline)
            except StreamFault as fault:
                stream.close()
                stats.maybe_billed = True
                raise AttemptFailed(
                    f"the stream broke before its first event ({fault})", retryable=True
                ) from None
            return stream

        opened: EventStream = self._call("POST", path, payload, deadline, stats, first_event, headers)
        return opened

    def _call(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None,
        deadline: Deadline,
        stats: CallStats | None,
        read: Callable[[requests.Response, Deadline, CallStats], Any] | None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        if not self.endpoints:
            raise NotConfigured("the model API is not configured: set AI_MODEL_ENDPOINT")
        stats = stats if stats is not None else CallStats()
        started = self._clock()
        failure = "no attempt was made"
        try:
            for index, base_url in enumerate(self.endpoints):
                if deadline.expired():
                    break
                stats.fallback_used = index > 0
                try:
                    return self._call_endpoint(
                        method, base_url + path, payload, deadline, stats, read, headers
                    )
                except AttemptFailed as exc:
                    if exc.refused and index == 0:
                        raise UpstreamRejected(f"the model API refused the request: {exc.reason}") from None
                    # A fallback endpoint's refusal after the first one failed: the failure is the news.
                    failure = f"{failure}; then {exc.reason}" if exc.refused else exc.reason
        finally:
            stats.latency_ms = (self._clock() - started) * 1000
        if deadline.expired():
            raise UpstreamTimeout(f"the model API did not answer within {deadline.seconds:g} s")
        raise UpstreamError(f"the model API failed after {stats.attempts} attempt(s): {failure}")

    def _call_endpoint(
        self,
        method: str,
        url: str,
        payload: dict[str, Any] | None,
        deadline: Deadline,
        stats: CallStats,
        read: Callable[[requests.Response, Deadline, CallStats], Any] | None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        key = self._key_source.get_key()
        retries_left = self._max_retries
        while True:
            if deadline.expired():
                raise AttemptFailed("deadline reached", retryable=False)
            stats.attempts += 1
            try:
                return self._attempt(method, url, payload, key, deadline, stats, read, headers)
            except _KeyRejected:
                if stats.key_refreshed:
                    raise AttemptFailed(
                        "the provider rejected the API key (HTTP 401)", retryable=False
                    ) from None
                stats.key_refreshed = True
                fresh_key = self._key_source.get_key(refresh=True)
                if fresh_key == key:
                    raise AttemptFailed(
                        "the provider rejected the API key (HTTP 401)", retryable=False
                    ) from None
                key = fresh_key
            except AttemptFailed as failure:
                if not failure.retryable or retries_left <= 0:
                    raise
                delay = self._backoff(self._max_retries - retries_left, failure.retry_after_s)
                if delay >= deadline.remaining():
                    raise  # sleeping would end past the deadline: give the time to the fallback instead
                retries_left -= 1
                stats.retries += 1
                self._sleep(delay)

    def _attempt(
        self,
        method: str,
        url: str,
        payload: dict[str, Any] | None,
        key: str | None,
        deadline: Deadline,
        stats: CallStats,
        read: Callable[[requests.Response, Deadline, CallStats], Any] | None = None,
        request_headers: Mapping[str, str] | None = None,
    ) -> Any:
        accept = "text/event-stream" if read is not None else "application/json"
        headers = {"Accept": accept, **(request_headers or {}), **self._extra_headers}
        if key:
            headers.update(self._auth_headers(key))
        remaining = deadline.remaining()
        socket_deadline.install(self._session)
        cut: socket_deadline.Cut | None = None
        try:
            # The status line and headers too must arrive before the deadline, not just each byte.
            with socket_deadline.cut_at(time.monotonic() + remaining) as cut:
                response = self._session.request(
                    method,
                    url,
                    json=payload,
                    headers=headers,
                    timeout=(min(remaining, _CONNECT_TIMEOUT_CAP_S), remaining),
                    stream=True,
                    allow_redirects=False,
                )
        except requests.ConnectTimeout:
            raise AttemptFailed("timed out connecting", retryable=True) from None
        except requests.Timeout:
            stats.maybe_billed = True
            raise AttemptFailed("timed out", retryable=True) from None
        except requests.RequestException as exc:
            if cut is not None and cut.fired:
                stats.maybe_billed = True
                raise AttemptFailed("timed out waiting for the response headers", retryable=False) from None
            raise AttemptFailed(f"connection failed ({type(exc).__name__})", retryable=True) from None
        handed_over = False  # a stream's reader owns the response once it has its first event
        try:
            status = stats.last_status = response.status_code
            if status == 401:
                raise _KeyRejected
            if status == 429 or status >= 500:
                raise AttemptFailed(
                    f"HTTP {status}",
                    retryable=True,
                    retry_after_s=retry_after_s(response.headers.get("Retry-After")),
                )
            if not 200 <= status < 300:
                kind, param = refusal_signal(response, deadline, stats, self._max_response_bytes)
                reason = f"HTTP {status} ({kind})" if kind else f"HTTP {status}"
                if param:
                    # Its own request's field: a caller's may differ (a system prompt added, another API).
                    reason += f", naming its field {param}"
                raise AttemptFailed(reason, retryable=False, refused=self._is_callers(status, kind))
            if read is not None:
                opened = read(response, deadline, stats)
                handed_over = True
                return opened
            data = read_body(response, deadline, stats, self._max_response_bytes)
        finally:
            if not handed_over:
                response.close()
        return json_object(data, stats)

    def _is_callers(self, status: int, kind: str | None) -> bool:
        """Whether a refusal is the request's own doing (REFUSED_REQUEST_STATUSES says why)."""
        if status == 404:
            return self._caller_names_model and kind in UNKNOWN_MODEL_KINDS
        return status in REFUSED_REQUEST_STATUSES

    def _backoff(self, retry_number: int, retry_after_s: float | None) -> float:
        backoff = backoff_delay(retry_number, self._backoff_base_s, self._backoff_cap_s, self._jitter)
        # Retry-After is honoured as a floor: "0" or a date already past must not become a hot loop.
        return backoff if retry_after_s is None else max(retry_after_s, backoff)

"""A circuit breaker per route, per container: a route that keeps failing is skipped for a while.

Closed: calls go through, and their outcomes are counted in time buckets over `window_s`. When at
least `min_calls` calls in the window failed at `failure_rate` or more, it opens. Open: the route is
skipped (its fallbacks serve) until `cooldown_s` has passed. Half-open: one probe call goes through;
success closes the breaker with a fresh window, failure opens it for another cool-down.

The state lives in the container, not in the table: a container sees enough of a route's traffic to
judge it (it is the one making the calls), reading shared state would cost a read per request, and
a fresh container simply starts closed and learns within `min_calls` calls.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
CALL, PROBE = "call", "probe"  # what try_acquire granted
_BUCKETS = 20


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failure_rate: float = 0.3,
        window_s: float = 600.0,
        min_calls: int = 10,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.name = name
        self._failure_rate = failure_rate
        self._bucket_s = window_s / _BUCKETS
        self._min_calls = min_calls
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._on_change = on_change or (lambda _name, _old, _new: None)
        self._lock = threading.Lock()
        self._state = CLOSED
        self._opened_at = 0.0
        self._probe_out = False
        self._buckets: dict[int, list[int]] = {}  # bucket number -> [calls, failures]

    @property
    def state(self) -> str:
        with self._lock:
            return self._current_state()

    def retry_after_s(self) -> float:
        """Seconds until an open breaker lets a probe through (0 when it would now)."""
        with self._lock:
            return (
                max(0.0, self._opened_at + self._cooldown_s - self._clock()) if self._state == OPEN else 0.0
            )

    def try_acquire(self) -> str | None:
        """May a call go to the route now? None: not now; PROBE: this call is the half-open state's one
        probe (hand it back to `release`); CALL: the breaker is closed."""
        with self._lock:
            state = self._current_state()
            if state == CLOSED:
                return CALL
            if state == HALF_OPEN and not self._probe_out:
                self._probe_out = True
                return PROBE
            return None

    def release(self, granted: str) -> None:
        """A call that was allowed told nothing of the route's health (its quota was spent, the request
        itself was refused): if it held the probe, the next call may probe instead."""
        with self._lock:
            if granted == PROBE:
                self._probe_out = False

    def record(self, ok: bool) -> None:
        with self._lock:
            state = self._current_state()
            if state == HALF_OPEN:
                self._probe_out = False
                if ok:
                    self._buckets.clear()
                    self._set(CLOSED)
                else:
                    self._open()
                return
            if state == OPEN:
                return  # a call that started before the breaker opened
            bucket = self._buckets.setdefault(int(self._clock() // self._bucket_s), [0, 0])
            bucket[0] += 1
            bucket[1] += 0 if ok else 1
            if not ok and self._tripped():
                self._open()

    def _current_state(self) -> str:
        if self._state == OPEN and self._clock() >= self._opened_at + self._cooldown_s:
            self._set(HALF_OPEN)
        return self._state

    def _tripped(self) -> bool:
        oldest = int(self._clock() // self._bucket_s) - _BUCKETS + 1
        for number in [number for number in self._buckets if number < oldest]:
            del self._buckets[number]
        calls = sum(bucket[0] for bucket in self._buckets.values())
        failures = sum(bucket[1] for bucket in self._buckets.values())
        return calls >= self._min_calls and failures >= self._failure_rate * calls

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._set(OPEN)

    def _set(self, state: str) -> None:
        if state != self._state:
            old, self._state = self._state, state
            self._on_change(self.name, old, state)

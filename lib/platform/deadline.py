"""One deadline per request: every wait (socket reads, backoff sleeps, store calls) uses what is left."""

from __future__ import annotations

import time
from collections.abc import Callable


class Deadline:
    """An absolute point in monotonic time; `remaining()` is what any wait may still use."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.seconds = seconds
        self.expires_at = clock() + seconds

    def remaining(self) -> float:
        return self.expires_at - self._clock()

    def expired(self) -> bool:
        return self.remaining() <= 0

"""What one upstream call took, filled in even when it fails: for metrics, the access line, and the
settlement (whether a failed call may still have been billed)."""

from __future__ import annotations


class CallStats:
    """What one upstream call took; filled in even when the call fails, for metrics and the access log."""

    def __init__(self) -> None:
        self.attempts = 0
        self.retries = 0
        self.fallback_used = False
        self.key_refreshed = False
        self.maybe_billed = (
            False  # an attempt failed after the upstream may have generated (and billed) an answer
        )
        self.latency_ms = 0.0
        self.last_status: int | None = None

"""The limit item's counters, one per window (`tokens_20261118`, `requests_202611`, `cost_...`): naming
the day and month windows (UTC), which counters are stale, when the day's budget resets, and a
caller's usage read back from them (GET /v1/usage). The Limiter writes them."""

from __future__ import annotations

import time
from typing import Any

from lib.callers.identity import Caller


def day_and_month(now: float) -> tuple[str, str]:
    day = time.strftime("%Y%m%d", time.gmtime(now))
    return day, day[:6]


def stale_counters(item: dict[str, Any], now: float) -> tuple[str, ...]:
    """Counters of days before yesterday and months before last: nothing reads them any more, and an
    item over 1 KB costs two write units per write. Yesterday's stays for requests that settle after
    midnight; last month's for the same reason at a month's turn."""
    today, _ = day_and_month(now)
    yesterday, _ = day_and_month(now - 86_400)
    _, last_month = day_and_month(now - int(today[6:]) * 86_400)  # the last day of the month before
    stale = []
    for name in item:
        prefix, _, window = name.rpartition("_")
        if prefix not in ("tokens", "requests", "cost") or not window.isdigit():
            continue
        if (len(window) == 8 and window < yesterday) or (len(window) == 6 and window < last_month):
            stale.append(name)
    return tuple(sorted(stale))


def seconds_to_midnight(now: float) -> int:
    return max(1, 86_400 - int(now) % 86_400)


def usage_report(item: dict[str, Any], caller: Caller, now: float, enforced: bool) -> dict[str, Any]:
    """The caller's requests and tokens today, its limits and what is left, from its limit item."""
    day, month = day_and_month(now)
    tokens_today = int(item.get(f"tokens_{day}", 0))
    return {
        "object": "usage",
        "caller": caller.caller_id,
        "name": caller.name,
        "day": f"{day[:4]}-{day[4:6]}-{day[6:]}",
        "requests_today": int(item.get(f"requests_{day}", 0)),
        "tokens_today": tokens_today,
        "tokens_this_month": int(item.get(f"tokens_{month}", 0)),
        "cost_usd_this_month": float(item.get(f"cost_{month}", 0.0)),
        "limits": {
            "requests_per_minute": caller.rpm,
            "burst": caller.burst,
            "daily_tokens": caller.daily_tokens,
            "enforced": enforced,
        },
        "remaining_tokens_today": max(0, caller.daily_tokens - tokens_today),
        "resets_in_s": seconds_to_midnight(now),
    }

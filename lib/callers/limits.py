"""Rate limit (token bucket) and daily token budget, shared by every Lambda instance through DynamoDB.

The bucket is kept as GCRA: one number per caller, the "theoretical arrival time" `tat_ms`. A request
at `now` is admitted when `tat_ms <= now + (burst - 1) * interval`, which is exactly a token bucket of
`burst` tokens refilled at `rpm` per minute. The decision and the reservation of the request's
tokens against the day's budget are one conditional UpdateItem: two processes can never both take
the last token. There are two shapes of that write, because DynamoDB expressions have no max():
    idle  (tat_ms <= now):  tat_ms = now + interval
    busy  (tat_ms >  now):  tat_ms = tat_ms + interval, only while tat_ms <= now + allowance
The container remembers each caller's last tat_ms to try the likely shape first, so the common path
is one write. A refusal is one failed write that returns the item (to say why and for how long), no
read; a caller this container already knows to be over its limit is refused without any table call.

Budget: a request reserves an upper bound of its tokens (its input as lib/core/token_estimate.py
counts it, plus `max_tokens`) and is admitted only while that fits in what is left of the day's
budget, the reservations of requests still in flight included (the condition is `tokens <= budget -
reservation`: DynamoDB conditions have no arithmetic on attributes). After the upstream answers, one
more write replaces the reservation with the provider's reported usage, even when that is more. So
the day's total exceeds the budget only by what providers billed above the reservations (logged and
counted as TokensAboveReservation), never by the reservations themselves.

The counters' windows (day and month, UTC) and the usage read back from them: counters.py.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from lib.callers.counters import day_and_month, seconds_to_midnight, stale_counters, usage_report
from lib.callers.identity import Caller
from lib.platform.bounded import LruDict
from lib.platform.config import Settings
from lib.platform.errors import BudgetExceeded, RateLimited, StoreUnavailable
from lib.platform.store import (
    GLOBAL_SORT_KEY,
    LIMITS_PARTITION,
    TTL_ATTRIBUTE,
    ConditionFailed,
    StoreError,
    Table,
)

# Writes one admission may try: a wrong guess of the item's shape costs one, a concurrent change another.
_ATTEMPTS = 3
# Limit items outlive a caller's last request by more than a month, so this month's counters stay
# readable (`make usage`, /v1/usage); then DynamoDB's TTL deletes them (one item per source IP with
# AUTH_MODE=none would otherwise pile up forever). Nothing depends on the deletion happening.
LIMITS_TTL_S = 35 * 86_400
# Callers whose last bucket time this container remembers (only a hint for which write to try first;
# with AUTH_MODE=none every source address is a caller, so it must be bounded).
CALLER_STATE_LIMIT = 4096


class Admission:
    """A request's admission: filled in by `Limiter.admit`, settled by `Limiter.settle`."""

    def __init__(self, caller: Caller, day: str, month: str) -> None:
        self.caller = caller
        self.day = day
        self.month = month
        self.reserved_tokens = 0
        self.recorded = False  # False: nothing was written (no table, or the store failed open)
        self.store_failed = False  # the store failed and RATE_LIMIT_FAIL_MODE=open let the request through
        self.stale_counters: tuple[str, ...] = ()  # counters of past windows on the item, dropped by `settle`


class Limiter:
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
        self._last_tat_ms: LruDict[str, int] = LruDict(CALLER_STATE_LIMIT)
        self._global_tokens: tuple[str, int] = ("", 0)  # (day, tokens) as last seen by this container

    @property
    def enabled(self) -> bool:
        return self._table is not None

    def admit(self, caller: Caller, reserve_tokens: int) -> Admission:
        """Take one token from the caller's bucket and reserve tokens against the day's budget."""
        now = self._clock()
        day, month = day_and_month(now)
        admission = Admission(caller, day, month)
        if self._table is None:
            return admission
        if reserve_tokens > 0:  # what spends no tokens (listing models) is rate-limited, not budgeted
            if reserve_tokens > caller.daily_tokens:
                raise _over_budget(reserve_tokens, caller.daily_tokens, caller.daily_tokens, now)
            self._check_global_budget(day, now, reserve_tokens)
        try:
            item = self._take(caller, day, now, reserve_tokens)
        except StoreError as exc:
            self._on_store_error(str(exc))
            if self._settings.rate_limit_fail_mode == "open":
                admission.store_failed = True
                return admission
            raise StoreUnavailable(
                "the rate-limit store is unavailable, so the request was not sent; try again shortly",
                retry_after_s=1,
            ) from None
        admission.reserved_tokens = reserve_tokens
        admission.recorded = True
        admission.stale_counters = stale_counters(item, now)
        return admission

    def settle(
        self, admission: Admission, used_tokens: int, cost_usd: float, time_left_s: float | None = None
    ) -> bool:
        """Replace the reservation with real usage. Never raises: returns False when the write failed.

        `time_left_s` bounds the writes (the function's remaining time, after the upstream call).
        """
        if self._table is None:
            return True
        try:
            with self._table.time_limit(time_left_s):
                self._record(admission, used_tokens, cost_usd)
        except StoreError as exc:
            self._on_store_error(str(exc))
            return False
        return True

    def usage(self, caller: Caller) -> dict[str, Any]:
        """The caller's requests and tokens today, its limits and what is left."""
        now = self._clock()
        item: dict[str, Any] = {}
        if self._table is not None:
            try:
                item = (
                    self._table.get({"pk": LIMITS_PARTITION, "sk": caller.caller_id}, consistent=False) or {}
                )
            except StoreError as exc:
                self._on_store_error(str(exc))
                raise StoreUnavailable(
                    "the usage store is unavailable; try again shortly", retry_after_s=1
                ) from None
        return usage_report(item, caller, now, enforced=self._table is not None)

    def refuse_if_known_over(self, caller: Caller, now: float | None = None) -> int:
        """A 429, no table call, if the caller's tat_ms as this container last saw it refuses; else that."""
        known_tat_ms = self._last_tat_ms.get(caller.caller_id) or 0
        now_ms = int((self._clock() if now is None else now) * 1000)
        if known_tat_ms > (limit_ms := now_ms + (caller.burst - 1) * math.ceil(60_000 / caller.rpm)):
            raise _rate_limited(caller, known_tat_ms, limit_ms)  # tat_ms only grows: the write refuses too
        return known_tat_ms

    def _take(self, caller: Caller, day: str, now: float, reserve_tokens: int) -> dict[str, Any]:
        assert self._table is not None
        now_ms = int(now * 1000)
        interval_ms = math.ceil(60_000 / caller.rpm)
        allowance_ms = (caller.burst - 1) * interval_ms
        names = {
            "#tat": "tat_ms",
            "#req": f"requests_{day}",
            "#tok": f"tokens_{day}",
            "#name": "name",
            "#exp": TTL_ATTRIBUTE,
        }
        shared = {
            ":now": now_ms,
            ":expires": int(now) + LIMITS_TTL_S,
            ":zero": 0,
            ":one": 1,
            ":reserve": reserve_tokens,
            ":name": caller.name,
        }
        spends = reserve_tokens > 0  # what spends no tokens (listing models) is rate-limited, not budgeted
        within_budget = ""
        if spends:
            # The reservation must fit in what is left; DynamoDB refuses a value no expression uses.
            within_budget = " AND (attribute_not_exists(#tok) OR #tok <= :headroom)"
            shared[":headroom"] = caller.daily_tokens - reserve_tokens
        counters = (
            "#req = if_not_exists(#req, :zero) + :one, "
            "#tok = if_not_exists(#tok, :zero) + :reserve, #name = :name, #exp = :expires"
        )
        idle = (
            f"SET #tat = :next, {counters}",
            f"(attribute_not_exists(#tat) OR #tat <= :now){within_budget}",
            {**shared, ":next": now_ms + interval_ms},
        )
        busy = (
            f"SET #tat = #tat + :interval, {counters}",
            f"#tat > :now AND #tat <= :limit{within_budget}",
            {**shared, ":interval": interval_ms, ":limit": now_ms + allowance_ms},
        )
        key = {"pk": LIMITS_PARTITION, "sk": caller.caller_id}
        known_tat_ms = self.refuse_if_known_over(caller, now)
        shapes = {"idle": idle, "busy": busy}
        shape = "busy" if known_tat_ms > now_ms else "idle"
        for attempt in range(_ATTEMPTS):
            expression, condition, values = shapes[shape]
            try:
                item = self._table.update(
                    key, expression, names, values, condition=condition, return_item_on_failure=True
                )
            except ConditionFailed as failed:
                seen = failed.item
            else:
                self._last_tat_ms.put(caller.caller_id, int(item.get("tat_ms", 0)))
                return item
            if seen is None and attempt == 0:
                shape = "busy" if shape == "idle" else "idle"  # a store that does not say why: try the other
                continue
            if seen is None:
                seen = self._table.get(key) or {}
            tat_ms = int(seen.get("tat_ms", 0))
            self._last_tat_ms.put(caller.caller_id, max(tat_ms, self._last_tat_ms.get(caller.caller_id) or 0))
            tokens_today = int(seen.get(f"tokens_{day}", 0))
            if spends and tokens_today > caller.daily_tokens - reserve_tokens:
                raise _over_budget(
                    reserve_tokens, caller.daily_tokens - tokens_today, caller.daily_tokens, now
                )
            if tat_ms > now_ms + allowance_ms or attempt == _ATTEMPTS - 1:
                # Refused on what the failed write returned: one write, no read. (The last attempt only
                # fails this way when other requests kept changing the item: they took the tokens.)
                raise _rate_limited(caller, max(tat_ms, now_ms + allowance_ms + 1), now_ms + allowance_ms)
            shape = "busy" if tat_ms > now_ms else "idle"  # the guess was wrong, not the request
        raise AssertionError("unreachable: the last attempt admits or raises")

    def _check_global_budget(self, day: str, now: float, reserve_tokens: int) -> None:
        budget = self._settings.global_daily_token_budget
        seen_day, seen_tokens = self._global_tokens
        if budget is not None and (
            (seen_day == day and seen_tokens + reserve_tokens > budget) or reserve_tokens > budget
        ):
            raise BudgetExceeded(
                "the gateway's global daily token budget is used up; it resets at 00:00 UTC",
                retry_after_s=seconds_to_midnight(now),
            )

    def _record(self, admission: Admission, used_tokens: int, cost_usd: float) -> None:
        assert self._table is not None
        day, month = admission.day, admission.month
        names = {
            "#tok_d": f"tokens_{day}",
            "#cost_d": f"cost_{day}",
            "#req_d": f"requests_{day}",
            "#tok_m": f"tokens_{month}",
            "#cost_m": f"cost_{month}",
            "#req_m": f"requests_{month}",
            "#exp": TTL_ATTRIBUTE,
        }
        values = {
            ":delta": used_tokens - admission.reserved_tokens,
            ":used": used_tokens,
            ":cost": cost_usd,
            ":one": 1,
            # A request admitted while the store was down was not counted then; count it now.
            ":req_d": 0 if admission.recorded else 1,
            ":expires": int(self._clock()) + LIMITS_TTL_S,
        }
        expression = (
            "ADD #tok_d :delta, #cost_d :cost, #req_d :req_d, #tok_m :used, #cost_m :cost, #req_m :one "
            "SET #exp = :expires"
        )
        if admission.stale_counters:
            stale = {f"#stale{index}": name for index, name in enumerate(admission.stale_counters)}
            names.update(stale)
            expression += " REMOVE " + ", ".join(stale)
        self._table.update(
            {"pk": LIMITS_PARTITION, "sk": admission.caller.caller_id}, expression, names, values
        )
        if self._settings.global_daily_token_budget is not None:
            item = self._table.update(
                {"pk": LIMITS_PARTITION, "sk": GLOBAL_SORT_KEY},
                "ADD #tok_d :used SET #exp = :expires",
                {"#tok_d": f"tokens_{day}", "#exp": TTL_ATTRIBUTE},
                {":used": used_tokens, ":expires": values[":expires"]},
            )
            self._global_tokens = (day, int(item.get(f"tokens_{day}", 0)))


def _over_budget(reserve_tokens: int, left: int, budget: int, now: float) -> BudgetExceeded:
    if left <= 0:
        said = f"the daily token budget ({budget}) is used up"
    else:
        said = (
            f"this request may use up to {reserve_tokens} tokens (its input, counted as a provider may bill "
            f"it, plus max_tokens), more than the {left} left of the daily token budget ({budget}, requests "
            "in flight included)"
        )
    return BudgetExceeded(f"{said}; it resets at 00:00 UTC", retry_after_s=seconds_to_midnight(now))


def _rate_limited(caller: Caller, tat_ms: int, limit_ms: int) -> RateLimited:
    return RateLimited(
        f"rate limit of {caller.rpm} requests per minute (burst {caller.burst}) exceeded",
        retry_after_s=max(1, math.ceil((tat_ms - limit_ms) / 1000)),
    )

"""Free monthly allowances per route, counted in the table, and the ZERO_COST rule.

Item: pk="QUOTAS", sk=<route name>, with `tokens_<YYYYMM>` and `requests_<YYYYMM>` (the month is in
the name, so a new month starts at zero without a reset job or TTL).

Only routes with `free_tokens_per_month` are counted: one write after the call (the real tokens).
With ZERO_COST=true such a route may serve only while its allowance lasts, so the call is preceded by
a conditional reservation (`tokens < allowance`, then add the request's upper bound) and the settle
write replaces it with the real count. Requests in flight can overshoot by their reservations, never
more. A route with price 0 serves regardless; a route with neither an allowance nor price 0 never
serves under ZERO_COST. When the store cannot be reached, ZERO_COST cannot prove a call free, so the
route does not serve.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from lib.platform.route_table import Route
from lib.platform.store import QUOTAS_PARTITION, ConditionFailed, StoreError, Table


class QuotaSpent(Exception):
    """The route may not serve this request under ZERO_COST (allowance used, unknown, or unpriced)."""


class QuotaHold(NamedTuple):
    route: str
    month: str
    reserved: int


class FreeQuotas:
    def __init__(
        self,
        table: Table | None,
        zero_cost: bool,
        clock: Callable[[], float] = time.time,
        on_store_error: Callable[[str], None] | None = None,
    ) -> None:
        self._table = table
        self.zero_cost = zero_cost
        self._clock = clock
        self._on_store_error = on_store_error or (lambda _message: None)

    def may_ever_serve(self, route: Route) -> bool:
        """Under ZERO_COST, a route with neither an allowance nor price 0 is never used."""
        return not self.zero_cost or route.price_per_1k_tokens == 0 or route.free_tokens_per_month is not None

    def reserve(self, route: Route, tokens: int) -> QuotaHold | None:
        """Before the call: None when the route is not counted; raises QuotaSpent when it may not serve."""
        if not self.may_ever_serve(route):
            raise QuotaSpent
        allowance = route.free_tokens_per_month
        if allowance is None:
            return None
        month = self.month()
        if not self.zero_cost or route.price_per_1k_tokens == 0:
            return QuotaHold(route.name, month, 0)  # counted after the call, never refused
        if self._table is None:
            raise QuotaSpent  # nothing to count with: cannot prove the call free
        try:
            self._table.update(
                {"pk": QUOTAS_PARTITION, "sk": route.name},
                "ADD #tok :reserve, #req :one",
                {"#tok": f"tokens_{month}", "#req": f"requests_{month}"},
                {":reserve": tokens, ":one": 1, ":allowance": allowance},
                condition="attribute_not_exists(#tok) OR #tok < :allowance",
            )
        except ConditionFailed:
            raise QuotaSpent from None
        except StoreError as exc:
            self._on_store_error(str(exc))
            raise QuotaSpent from None
        return QuotaHold(route.name, month, tokens)

    def settle(self, hold: QuotaHold | None, used_tokens: int) -> bool:
        """After the call: the real tokens replace the reservation. False when the write failed."""
        if hold is None or self._table is None:
            return True
        names = {"#tok": f"tokens_{hold.month}"}
        values: dict[str, Any] = {":delta": used_tokens - hold.reserved}
        expression = "ADD #tok :delta"
        if not hold.reserved:  # not reserved before the call, so not counted as a request yet
            names["#req"] = f"requests_{hold.month}"
            values[":one"] = 1
            expression += ", #req :one"
        try:
            self._table.update({"pk": QUOTAS_PARTITION, "sk": hold.route}, expression, names, values)
        except StoreError as exc:
            self._on_store_error(str(exc))
            return False
        return True

    def usage(self, routes: Iterable[Route]) -> list[dict[str, Any]]:
        """Each counted route's tokens this month against its allowance (for `make usage`)."""
        month = self.month()
        rows = []
        for route in routes:
            if route.free_tokens_per_month is None:
                continue
            item = (
                self._table.get({"pk": QUOTAS_PARTITION, "sk": route.name}) if self._table else None
            ) or {}
            tokens = int(item.get(f"tokens_{month}", 0))
            rows.append(
                {
                    "route": route.name,
                    "month": f"{month[:4]}-{month[4:]}",
                    "tokens": tokens,
                    "requests": int(item.get(f"requests_{month}", 0)),
                    "free_tokens_per_month": route.free_tokens_per_month,
                    "remaining": max(0, route.free_tokens_per_month - tokens),
                }
            )
        return rows

    def month(self) -> str:
        return time.strftime("%Y%m", time.gmtime(self._clock()))

    def seconds_to_next_month(self) -> int:
        now = time.gmtime(self._clock())
        year, month = (now.tm_year + 1, 1) if now.tm_mon == 12 else (now.tm_year, now.tm_mon + 1)
        start = calendar.timegm((year, month, 1, 0, 0, 0, 0, 0, 0))
        return max(1, int(start - self._clock()))

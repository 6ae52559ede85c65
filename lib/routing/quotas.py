"""Free monthly allowances per route, counted in the table, and the ZERO_COST rule.

Item: pk="QUOTAS", sk=<route name>, with `tokens_<YYYYMM>` and `requests_<YYYYMM>` (the month is in
the name, so a new month starts at zero without a reset job or TTL).

Only routes with `free_tokens_per_month` are counted: one write after the call (the real tokens).
With ZERO_COST=true such a route may serve only while its allowance lasts, so the call is preceded by
a conditional reservation of the request's upper bound, taken only while it fits in what is left
(`tokens <= allowance - reservation`, the reservations of requests in flight included), and the
settle write replaces it with the provider's reported count, even when that is more. So an
allowance is exceeded only by what providers billed above the reservations. A route with price 0
serves regardless; a route with neither an allowance nor price 0 never serves under ZERO_COST. When
the store cannot be reached, ZERO_COST cannot prove a call free, so the route does not serve.

Under ZERO_COST a route receives only the passed-through fields that cannot change what a provider
charges (`FREE_FIELDS`, beside the model, messages and the fields the gateway sets itself), and
those its `pass_fields` names: `models` or `route` (fallbacks to paid models), `plugins`,
`web_search_options`, `service_tier`, `provider`, `reasoning` and anything else unknown would reach a
route counted as free.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from lib.platform.route_table import Route
from lib.platform.store import QUOTAS_PARTITION, ConditionFailed, StoreError, Table

# Fields a caller may send to a free route: sampling, output shape, tools the caller runs itself.
# Each counts in the reservation like any text (lib/core/token_estimate.py) and bills nothing more.
FREE_FIELDS = frozenset(
    {
        "stop",
        "top_p",
        "top_k",
        "frequency_penalty",
        "presence_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "user",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "functions",
        "function_call",
        "response_format",
        "suffix",
        "echo",
    }
)


def fields_not_free(fields: Mapping[str, Any], route: Route) -> list[str]:
    """The passed-through fields a route counted as free must not receive under ZERO_COST: those not
    in FREE_FIELDS or its `pass_fields`, and tools the provider itself would run (and bill)."""
    refused = [name for name in fields if name not in FREE_FIELDS and name not in route.pass_fields]
    tools = fields.get("tools")
    if "tools" not in route.pass_fields and isinstance(tools, list) and not all(map(_runs_at_caller, tools)):
        refused.append("tools")
    return refused


def _runs_at_caller(tool: Any) -> bool:
    """A function tool: the caller runs it. Other types (web search, code execution) run at the provider."""
    return isinstance(tool, dict) and tool.get("type", "function") == "function"


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
        if self._table is None or tokens > allowance:
            raise QuotaSpent  # nothing to count with (cannot prove the call free), or it can never fit
        try:
            self._table.update(
                {"pk": QUOTAS_PARTITION, "sk": route.name},
                "ADD #tok :reserve, #req :one",
                {"#tok": f"tokens_{month}", "#req": f"requests_{month}"},
                {":reserve": tokens, ":one": 1, ":headroom": allowance - tokens},
                condition="attribute_not_exists(#tok) OR #tok <= :headroom",
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

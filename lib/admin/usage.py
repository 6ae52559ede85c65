"""`usage`: each caller's tokens and cost today and this month, and each route's tokens this month
against its free allowance, read from the table's counters."""

from __future__ import annotations

import time
from typing import TextIO

from lib.admin.text_table import print_table
from lib.platform.config import ConfigError
from lib.platform.route_table import load_route_table
from lib.platform.store import LIMITS_PARTITION, QUOTAS_PARTITION, Table
from lib.providers import PROVIDERS


def print_usage(table: Table, out: TextIO, now: float | None = None) -> None:
    now = time.time() if now is None else now
    day = time.strftime("%Y%m%d", time.gmtime(now))
    month = day[:6]
    names = {item.get("caller_id"): item.get("name", "") for item in table.query_partition("KEYS")}
    rows = []
    totals = [0, 0.0, 0, 0.0]
    for item in table.query_partition(LIMITS_PARTITION):
        if item["sk"].startswith("#"):
            continue
        figures = [
            int(item.get(f"tokens_{day}", 0)),
            float(item.get(f"cost_{day}", 0.0)),
            int(item.get(f"tokens_{month}", 0)),
            float(item.get(f"cost_{month}", 0.0)),
        ]
        totals = [total + figure for total, figure in zip(totals, figures, strict=True)]
        rows.append(
            [
                item["sk"],
                names.get(item["sk"], item.get("name", "")),
                str(item.get(f"requests_{day}", 0)),
                str(figures[0]),
                f"{figures[1]:.4f}",
                str(figures[2]),
                f"{figures[3]:.4f}",
            ]
        )
    rows.sort(key=lambda row: -int(row[5]))
    rows.append(["total", "", "", str(totals[0]), f"{totals[1]:.4f}", str(totals[2]), f"{totals[3]:.4f}"])
    print(f"usage for {day[:4]}-{day[4:6]}-{day[6:]} (UTC) and {month[:4]}-{month[4:]}", file=out)
    print_table(
        ["caller", "name", "requests today", "tokens today", "cost today $", "tokens month", "cost month $"],
        rows,
        out,
    )


def print_route_usage(table: Table, routes_file: str | None, out: TextIO, now: float | None = None) -> None:
    """Each route's tokens this month against its free allowance (routes without one are not counted)."""
    allowances: dict[str, int | None] = {}
    if routes_file:
        try:
            routes = load_route_table(routes_file, PROVIDERS, None)
        except ConfigError as exc:
            print(f"routes: {exc}", file=out)
            return
        allowances = {name: route.free_tokens_per_month for name, route in routes.routes.items()}
    month = time.strftime("%Y%m", time.gmtime(time.time() if now is None else now))
    rows = []
    for item in table.query_partition(QUOTAS_PARTITION):
        tokens = int(item.get(f"tokens_{month}", 0))
        allowance = allowances.get(item["sk"])
        rows.append(
            [
                item["sk"],
                str(item.get(f"requests_{month}", 0)),
                str(tokens),
                str(allowance) if allowance is not None else "?",
                str(max(0, allowance - tokens)) if allowance is not None else "?",
            ]
        )
    for name, allowance in allowances.items():
        if allowance is not None and name not in {row[0] for row in rows}:
            rows.append([name, "0", "0", str(allowance), str(allowance)])
    if not rows:
        return
    print(f"\nfree allowances for {month[:4]}-{month[4:]} (UTC)", file=out)
    print_table(["route", "requests month", "tokens month", "free tokens", "left"], rows, out)

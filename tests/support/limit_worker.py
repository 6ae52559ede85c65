"""One "container" for the two-process test: admits 15 requests against the shared table, prints counts.

It says "ready" once started (imports, client, a first call to the table: seconds on a loaded machine),
then waits for "go" on its standard input, so both processes admit together however long each took
to start.
"""

import json
import os
import sys

import boto3

from lib.callers.identity import Caller
from lib.callers.limits import Limiter
from lib.platform.config import load_settings
from lib.platform.errors import BudgetExceeded, RateLimited
from lib.platform.store import Table

FIXED_NOW = 1_795_000_000.0


def main() -> None:
    table_name = os.environ["TABLE_NAME"]
    settings = load_settings({"AUTH_MODE": "none", "TABLE_NAME": table_name})
    table = Table(boto3.client("dynamodb"), table_name)
    gate = Limiter(table, settings, clock=lambda: FIXED_NOW)
    who = Caller("key_shared00000", "shared", rpm=1, burst=10, daily_tokens=1_000_000)
    table.get({"pk": "LIMITS", "sk": "key_warmup00000"})  # the connection and the client's first call
    print("ready", flush=True)
    assert sys.stdin.readline().strip() == "go"
    counts = {"admitted": 0, "rate_refused": 0, "budget_refused": 0}
    for _ in range(15):
        try:
            admission = gate.admit(who, 5)
        except RateLimited:
            counts["rate_refused"] += 1
            continue
        except BudgetExceeded:
            counts["budget_refused"] += 1
            continue
        counts["admitted"] += 1
        gate.settle(admission, 7, 0.0)
    print(json.dumps(counts))


if __name__ == "__main__":
    main()

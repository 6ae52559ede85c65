"""Whether the table keeps up with what the HTTP API lets through: the defaults must agree.

At the HTTP API's sustained throttle (ApiThrottleRateLimit requests a second), every kind of request
junk or real traffic can send (served, refused, an unknown client key, served with an optional
feature) must fit the table's provisioned units; otherwise a throttled table turns every caller's
request into a 503. The per-request table calls are measured from the code (bench/measure.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.deployment import Deployment
from bench.measure import Measured

# DynamoDB: an item up to 1 KB costs one write unit per write; an eventually consistent read of up
# to 4 KB (client-key lookups) half a read unit.
READ_UNITS_PER_EVENTUAL_READ = 0.5


@dataclass(frozen=True)
class Load:
    """What traffic at the HTTP API's sustained throttle asks of the table, against what it has."""

    what: str
    units_per_second: float
    capacity: int
    unit: str
    optional: bool = False  # a feature off by default: docs/cost.md and `make cost` say what it needs

    @property
    def fits(self) -> bool:
        return self.units_per_second <= self.capacity


def table_loads(deployment: Deployment, measured: Measured) -> list[Load]:
    """The table's load when every request the HTTP API passes on (ApiThrottleRateLimit a second,
    sustained) is of one kind: served, refused, from an unknown key, or served with an optional feature.
    DynamoDB banks 5 minutes of unused capacity, which absorbs the API's bursts."""
    rate = deployment.api_rate_limit
    wcu, rcu = deployment.table_write_capacity, deployment.table_read_capacity
    loads = [
        Load("served requests", rate * measured.dynamodb_writes_per_request, wcu, "WCU"),
        Load(
            "refused requests (rate limit, budget)", rate * measured.dynamodb_writes_per_refusal, wcu, "WCU"
        ),
        Load(
            "unknown client keys",
            rate * measured.dynamodb_reads_per_unknown_key * READ_UNITS_PER_EVENTUAL_READ,
            rcu,
            "RCU",
        ),
        # CACHE_MODE=seeded (the default) looks up every request that sends a seed: junk can send seeds.
        Load(
            "served requests with a seed, each a response-cache miss",
            rate * (measured.dynamodb_writes_per_request + measured.cache_writes_per_miss),
            wcu,
            "WCU",
        ),
        Load(
            "response-cache lookups (requests with a seed)",
            rate * measured.cache_reads_per_cacheable_request * READ_UNITS_PER_EVENTUAL_READ,
            rcu,
            "RCU",
        ),
    ]
    for feature, writes in sorted(measured.feature_writes_per_request.items()):
        loads.append(Load(f"served requests with {feature}", rate * writes, wcu, "WCU", optional=True))
    return loads


def capacity_report(deployment: Deployment, measured: Measured) -> list[str]:
    """Whether the table keeps up with what the HTTP API lets through, and what optional features add."""
    out = []
    extra = {
        feature: writes - measured.dynamodb_writes_per_request
        for feature, writes in sorted(measured.feature_writes_per_request.items())
    }
    if extra:
        out.append("optional features, table writes each adds to a served request (measured):")
        out += [f"  {feature}: +{writes:g}" for feature, writes in extra.items()]
    if deployment.table_billing == "PAY_PER_REQUEST":
        out.append("the on-demand table takes any load (and bills each request)")
        return out
    out.append(
        f"the table at the HTTP API's throttle, {deployment.api_rate_limit} requests/s sustained"
        f" (bursts of {deployment.api_burst_limit}; DynamoDB banks 5 minutes of unused capacity):"
    )
    for load in table_loads(deployment, measured):
        verdict = "fits" if load.fits else "TOO SMALL: raise the capacity or lower ApiThrottleRateLimit"
        out.append(f"  {load.what}: {load.units_per_second:g} {load.unit} of {load.capacity} - {verdict}")
    if deployment.function_url:
        out.append("  the Function URL has no throttle: nothing bounds what it lets through")
    out.append(
        "  the always-free 25 WCU and 25 RCU are shared by every provisioned table in the account and"
        " region: this estimate assumes this stack's table is the only one"
    )
    return out

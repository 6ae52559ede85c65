"""`make cost`: the estimated monthly AWS bill of the stack template.yaml deploys, at given request volumes.

    python -m bench.cost [--requests 10k,100k,1M] [--upstream-seconds 2] [--set Parameter=Value ...]
                         [--cacheable-share 0..1]

The deployment comes from template.yaml's parameter defaults (overridden with --set, checked against
the template's allowed values); the per-request figures (custom metric series, DynamoDB calls, log
bytes) are measured from the code by running the handler (bench/measure.py). Prices are us-east-1
list prices, after the 12-month AWS free tier: only the always-free allowances are applied.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping, Sequence

from bench.aws_prices import PRICES, PRICES_TAKEN
from bench.cost_estimate import (
    COLD_STARTS_PER_MONTH,
    GATEWAY_SECONDS,
    INIT_SECONDS,
    LAMBDA_PLATFORM_LOG_BYTES,
    LOG_COMPRESSION,
    estimate,
)
from bench.deployment import CostInputError, Deployment, deployment_from_template
from bench.measure import Measured
from bench.table_capacity import capacity_report


def parse_requests(text: str) -> list[int]:
    counts = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", part)
        if not match:
            raise CostInputError(
                f"bad request count {part.strip()!r}: use a number with an optional k or M, like 10k,100k,1M"
            )
        value = float(match.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[match.group(2).lower()]
        if not 1 <= value <= 1e10 or value != int(value):
            raise CostInputError(
                f"bad request count {part.strip()!r}: a whole number of requests from 1 to 10 billion"
            )
        counts.append(int(value))
    return counts


def render(
    deployment: Deployment,
    measured: Measured,
    counts: Sequence[int],
    upstream_seconds: float,
    overrides: Mapping[str, str],
    cacheable_share: float = 0.0,
) -> str:
    tables = {
        count: estimate(deployment, measured, count, upstream_seconds, cacheable_share) for count in counts
    }
    services = [line.service for line in tables[counts[0]]]
    with_overrides = " with " + ", ".join(f"{k}={v}" for k, v in overrides.items()) if overrides else ""
    out = [
        f"modelgate: estimated AWS cost per month, us-east-1 list prices taken {PRICES_TAKEN},",
        "after the 12-month free tier (only always-free allowances applied)",
        f"template.yaml{with_overrides}: "
        f"KeyStore={deployment.key_store}, TableBillingMode={deployment.table_billing}"
        f" ({deployment.table_write_capacity} WCU, {deployment.table_read_capacity} RCU),"
        f" ApiThrottleRateLimit={deployment.api_rate_limit}, FunctionMemoryMB={deployment.memory_mb},"
        f" EnableFunctionUrl={str(deployment.function_url).lower()},"
        f" DetailedMetrics={str(deployment.detailed_metrics).lower()},"
        f" LogRetentionDays={deployment.log_retention_days}",
        f"measured from the code: {measured.metric_series} metric series "
        f"({measured.metric_series_detailed} detailed), {measured.dynamodb_writes_per_request:g} DynamoDB "
        f"writes and {measured.dynamodb_reads_per_request:g} reads per request, "
        f"{measured.log_bytes_per_request} log bytes per request; a refusal "
        f"{measured.dynamodb_writes_per_refusal:g} write and {measured.dynamodb_reads_per_refusal:g} reads, "
        f"an unknown client key {measured.dynamodb_reads_per_unknown_key:g} read",
        f"response cache: {measured.cache_reads_per_cacheable_request:g} read per cacheable request, "
        f"{measured.cache_writes_per_miss:g} write per miss; {cacheable_share:.0%} of requests cacheable, "
        "each a miss (--cacheable-share; CACHE_MODE=seeded caches only requests that send a seed)",
        f"assumed: the model answers in {upstream_seconds:g} s on average (--upstream-seconds)",
        "",
    ]
    header = f"{'requests per month':<24}" + "".join(f"{_short(count):>12}" for count in counts)
    out += [header, "-" * len(header)]
    for index, service in enumerate(services):
        out.append(
            f"{service:<24}" + "".join(f"{'$' + format(tables[c][index].usd, ',.2f'):>12}" for c in counts)
        )
    out.append("-" * len(header))
    out.append(
        f"{'total':<24}"
        + "".join(f"{'$' + format(sum(line.usd for line in tables[c]), ',.2f'):>12}" for c in counts)
    )
    out += ["", f"at {_short(counts[-1])} requests:"]
    out += [f"  {line.service}: {line.detail}" for line in tables[counts[-1]]]
    out += ["", *capacity_report(deployment, measured)]
    out += ["", "prices and always-free allowances assumed:"]
    out += [f"  {_money(value)} {unit}; free: {free}" for value, unit, free in PRICES.values()]
    out += [
        "",
        "other assumptions: "
        f"{GATEWAY_SECONDS} s of gateway time per request; {INIT_SECONDS} s init per cold start, at most "
        f"{COLD_STARTS_PER_MONTH:,} a month; {LAMBDA_PLATFORM_LOG_BYTES} bytes of Lambda's own log lines per "
        f"request; logs stored at {LOG_COMPRESSION:.0%} of their size; data transfer within the 100 GB free",
        "the model provider bills separately: see its free allowance (the original design's example: "
        "100,000 tokens a month)",
    ]
    return "\n".join(out)


def _money(value: float) -> str:
    if 0 < value < 0.001:
        return f"${value * 1e6:.4g} per million:"
    return f"${value:.10g}"


def _short(count: int) -> str:
    if count >= 1_000_000 and count % 1_000_000 == 0:
        return f"{count // 1_000_000}M"
    if count >= 1_000 and count % 1_000 == 0:
        return f"{count // 1_000}k"
    return f"{count:,}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make cost", description=__doc__)
    parser.add_argument(
        "--requests", default="10k,100k,1M", help="request counts per month (default 10k,100k,1M)"
    )
    parser.add_argument(
        "--upstream-seconds",
        type=float,
        default=2.0,
        help="average time the model takes to answer (Lambda waits and is billed for it)",
    )
    parser.add_argument(
        "--cacheable-share",
        type=float,
        default=0.0,
        help="share of requests the response cache looks up (0-1), each counted as a miss",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PARAMETER=VALUE",
        help="a template parameter other than its default, e.g. KeyStore=secretsmanager",
    )
    args = parser.parse_args(argv)
    try:
        counts = parse_requests(args.requests)
        if not 0 <= args.upstream_seconds <= 900:
            raise CostInputError("--upstream-seconds must be between 0 and 900")
        if not 0 <= args.cacheable_share <= 1:
            raise CostInputError("--cacheable-share must be between 0 and 1")
        overrides = {}
        for item in args.set:
            name, sep, value = item.partition("=")
            if not sep or not name.strip():
                raise CostInputError(f"--set {item!r}: use PARAMETER=VALUE")
            overrides[name.strip()] = value.strip()
        from local.template import load_template

        deployment = deployment_from_template(load_template(), overrides)
    except CostInputError as exc:
        print(f"make cost: {exc}", file=sys.stderr)
        return 2
    from bench.measure import measure

    print(render(deployment, measure(), counts, args.upstream_seconds, overrides, args.cacheable_share))
    return 0


if __name__ == "__main__":
    sys.exit(main())

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
from dataclasses import dataclass

from bench.aws_prices import (
    EVENTUALLY_CONSISTENT_RCU,
    FREE,
    GIB,
    HOURS_PER_MONTH,
    PRICES,
    PRICES_TAKEN,
    SECONDS_PER_MONTH,
    price,
)
from bench.deployment import CostInputError, Deployment, deployment_from_template
from bench.measure import Measured
from bench.table_capacity import capacity_report

# Assumptions that are not the code's to measure, stated in the output.
GATEWAY_SECONDS = 0.03  # our code plus two DynamoDB calls in AWS, per request
INIT_SECONDS = 0.6  # a cold start's billed init phase at 256 MB
COLD_STARTS_PER_MONTH = 4_380  # at most one every 10 minutes: a personal service's idle container recycles
LAMBDA_PLATFORM_LOG_BYTES = 320  # Lambda's own START, END and REPORT lines
LOG_COMPRESSION = 0.15  # CloudWatch stores logs compressed
SECRET_CALLS_PER_HOUR = 12  # one re-read per AI_MODEL_SECRET_MAX_AGE_S (300 s) per warm container


@dataclass(frozen=True)
class Line:
    service: str
    usd: float
    detail: str


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


def estimate(
    deployment: Deployment,
    measured: Measured,
    requests: int,
    upstream_seconds: float,
    cacheable_share: float = 0.0,
) -> list[Line]:
    """One line per service; a line's usd is its monthly cost after the always-free allowances."""
    lines = []
    memory_gb = deployment.memory_mb / 1024
    rotations = 30.4 / deployment.rotation_days
    invocations = requests + rotations * 4
    lines.append(
        Line(
            "Lambda requests",
            max(0.0, invocations - FREE["lambda_requests"]) * price("lambda_request"),
            f"{invocations:,.0f} invocations",
        )
    )
    cold_starts = min(requests, COLD_STARTS_PER_MONTH)
    gb_seconds = memory_gb * (requests * (upstream_seconds + GATEWAY_SECONDS) + cold_starts * INIT_SECONDS)
    lines.append(
        Line(
            "Lambda duration",
            max(0.0, gb_seconds - FREE["lambda_gb_seconds"]) * price("lambda_gb_second_arm"),
            f"{gb_seconds:,.0f} GB-s at {deployment.memory_mb} MB",
        )
    )
    if deployment.function_url:
        lines.append(Line("Function URL", 0.0, "no per-request charge"))
    else:
        lines.append(
            Line("API Gateway HTTP API", requests * price("http_api_request"), f"{requests:,} requests")
        )
    lines.append(_dynamodb(deployment, measured, requests, cacheable_share))
    series = measured.metric_series_detailed if deployment.detailed_metrics else measured.metric_series
    lines.append(
        Line(
            "CloudWatch metrics",
            max(0, series - FREE["metric_series"]) * price("metric_series_month"),
            f"{series} custom series",
        )
    )
    lines.append(
        Line(
            "CloudWatch alarms",
            max(0, deployment.alarm_metrics - FREE["alarm_metrics"]) * price("alarm_metric_month"),
            f"{deployment.alarm_metrics} alarm metrics",
        )
    )
    lines.append(
        Line(
            "CloudWatch dashboards",
            max(0, deployment.dashboards - FREE["dashboards"]) * price("dashboard_month"),
            f"{deployment.dashboards} dashboard(s)",
        )
    )
    lines.append(_logs(deployment, measured, requests))
    if deployment.key_store == "secretsmanager":
        calls = min(requests, SECRET_CALLS_PER_HOUR * HOURS_PER_MONTH)
        lines.append(
            Line(
                "Secrets Manager",
                price("secret_month") + calls * price("secret_api_call"),
                f"1 secret, about {calls:,} reads",
            )
        )
    else:
        lines.append(Line("SSM Parameter Store", 0.0, "standard SecureString, standard throughput"))
        lines.append(
            Line(
                "EventBridge Scheduler",
                max(0.0, rotations - FREE["scheduler"]) * price("scheduler_invocation"),
                f"{rotations:.2f} rotations",
            )
        )
    return lines


def _dynamodb(deployment: Deployment, measured: Measured, requests: int, cacheable_share: float) -> Line:
    # The response cache: a read per cacheable request, a write per miss (every one a miss: the bound).
    cacheable = requests * cacheable_share
    writes = requests * measured.dynamodb_writes_per_request + cacheable * measured.cache_writes_per_miss
    reads = (
        requests * measured.dynamodb_reads_per_request
        + cacheable * measured.cache_reads_per_cacheable_request
    )
    if deployment.table_billing == "PAY_PER_REQUEST":
        usd = writes * price("dynamodb_write_request") + reads * price("dynamodb_read_request")
        return Line("DynamoDB", usd, f"on demand, {writes:,.0f} writes")
    wcu, rcu = deployment.table_write_capacity, deployment.table_read_capacity
    usd = HOURS_PER_MONTH * (
        max(0, wcu - FREE["dynamodb_wcu"]) * price("dynamodb_wcu_hour")
        + max(0, rcu - FREE["dynamodb_rcu"]) * price("dynamodb_rcu_hour")
    )
    average_wcu = writes / SECONDS_PER_MONTH
    average_rcu = reads * EVENTUALLY_CONSISTENT_RCU / SECONDS_PER_MONTH
    detail = (
        f"{wcu} WCU/{rcu} RCU provisioned, {average_wcu:.2f} WCU and {average_rcu:.2f} RCU used on average"
    )
    if average_wcu > wcu or average_rcu > rcu:
        detail += " - OVER CAPACITY: raise the table's capacity units or use PAY_PER_REQUEST"
    return Line("DynamoDB", usd, detail)


def _logs(deployment: Deployment, measured: Measured, requests: int) -> Line:
    ingested_gb = requests * (measured.log_bytes_per_request + LAMBDA_PLATFORM_LOG_BYTES) / GIB
    stored_gb = ingested_gb * LOG_COMPRESSION * deployment.log_retention_days / 30.4
    free_left = max(0.0, FREE["log_gb"] - ingested_gb)
    usd = max(0.0, ingested_gb - FREE["log_gb"]) * price("log_ingest_gb") + max(
        0.0, stored_gb - free_left
    ) * price("log_storage_gb_month")
    return Line(
        "CloudWatch Logs", usd, f"{ingested_gb:.2f} GB ingested, kept {deployment.log_retention_days} days"
    )


def free_tier_bounds(deployment: Deployment, measured: Measured) -> dict[str, tuple[float, float]]:
    """Each always-free bound of the default stack: (what it uses, the bound)."""
    series = measured.metric_series_detailed if deployment.detailed_metrics else measured.metric_series
    bounds: dict[str, tuple[float, float]] = {
        "CloudWatch custom metric series": (series, FREE["metric_series"]),
        "CloudWatch alarm metrics": (deployment.alarm_metrics, FREE["alarm_metrics"]),
        "CloudWatch dashboards": (deployment.dashboards, FREE["dashboards"]),
    }
    if deployment.table_billing == "PROVISIONED":
        bounds["DynamoDB provisioned WCU"] = (deployment.table_write_capacity, FREE["dynamodb_wcu"])
        bounds["DynamoDB provisioned RCU"] = (deployment.table_read_capacity, FREE["dynamodb_rcu"])
    return bounds


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

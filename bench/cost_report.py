"""The text `make cost` prints: the deployment and measured figures it priced, a table of each service's
monthly cost at each request volume, the details at the largest, the table's capacity check, and every
price and assumption behind the figures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bench.aws_prices import PRICES, PRICES_TAKEN
from bench.cost_estimate import (
    CACHE_ENTRY_BYTES,
    CALLER_ITEMS_BYTES,
    COLD_STARTS_PER_MONTH,
    GATEWAY_SECONDS,
    INIT_SECONDS,
    LAMBDA_PLATFORM_LOG_BYTES,
    LOG_COMPRESSION,
    estimate,
)
from bench.deployment import Deployment
from bench.measure import Measured
from bench.table_capacity import capacity_report


def render(
    deployment: Deployment,
    measured: Measured,
    counts: Sequence[int],
    upstream_seconds: float,
    overrides: Mapping[str, str],
    cacheable_share: float = 0.0,
    stream_share: float = 0.0,
    features: tuple[str, ...] = (),
) -> str:
    """The whole report, one column per request count in `counts`."""
    tables = {
        count: estimate(
            deployment, measured, count, upstream_seconds, cacheable_share, stream_share, features
        )
        for count in counts
    }
    services = [line.service for line in tables[counts[0]]]
    all_features = tuple(dict.fromkeys((*deployment.features, *features)))
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
        f" LogRetentionDays={deployment.log_retention_days},"
        f" EnableStreaming={str(deployment.streaming).lower()},"
        f" TablePointInTimeRecovery={str(deployment.point_in_time_recovery).lower()},"
        f" HttpApiAccessLogs={str(bool(deployment.access_log_bytes)).lower()}",
        "AWS's always-free allowances are per account (DynamoDB's per account and region): a second stack,"
        " or anything else in the account, shares them; this estimate assumes the stack is alone in it",
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
        *(
            [f"{stream_share:.0%} of requests stream through the streaming Function URL (--stream-share)"]
            if deployment.streaming
            else []
        ),
        *(
            [f"with {', '.join(all_features)}: the table writes each adds are priced in (--with)"]
            if all_features
            else []
        ),
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
        f"request; logs stored at {LOG_COMPRESSION:.0%} of their size; data transfer within the 100 GB free; "
        f"the table holds {CALLER_ITEMS_BYTES / 2**20:g} MB of callers' items and a {CACHE_ENTRY_BYTES}-byte"
        " item per cached answer alive",
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

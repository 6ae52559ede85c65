"""The cost model: a deployment's monthly AWS cost per service at a request volume, after the always-free
allowances, from the AWS prices (bench/aws_prices.py) and the figures measured from the code
(bench/measure.py); and the always-free bounds the default stack must stay within."""

from __future__ import annotations

from dataclasses import dataclass

from bench.aws_prices import EVENTUALLY_CONSISTENT_RCU, FREE, GIB, HOURS_PER_MONTH, SECONDS_PER_MONTH, price
from bench.deployment import Deployment
from bench.measure import Measured

# Assumptions that are not the code's to measure, stated in the output.
GATEWAY_SECONDS = 0.03  # our code plus two DynamoDB calls in AWS, per request
INIT_SECONDS = 0.6  # a cold start's billed init phase at 256 MB
COLD_STARTS_PER_MONTH = 4_380  # at most one every 10 minutes: a personal service's idle container recycles
LAMBDA_PLATFORM_LOG_BYTES = 320  # Lambda's own START, END and REPORT lines
LOG_COMPRESSION = 0.15  # CloudWatch stores logs compressed
SECRET_CALLS_PER_HOUR = 12  # one re-read per AI_MODEL_SECRET_MAX_AGE_S (300 s) per warm container
# The table's size, for point-in-time recovery: the callers' keys and usage items, and the cache's
# entries alive at once (CACHE_TTL_S, a day by default), each under 1 KB.
CALLER_ITEMS_BYTES = 1_000 * 2 * 1024  # a thousand callers, a key and a usage item each
CACHE_ENTRY_BYTES = 1024
CACHE_TTL_S = 86_400


@dataclass(frozen=True)
class Line:
    """One service's monthly cost, and what it is made of (the report's detail line)."""

    service: str
    usd: float
    detail: str


def estimate(
    deployment: Deployment,
    measured: Measured,
    requests: int,
    upstream_seconds: float,
    cacheable_share: float = 0.0,
    stream_share: float = 0.0,
    features: tuple[str, ...] = (),
) -> list[Line]:
    """One line per service; a line's usd is its monthly cost after the always-free allowances.
    `stream_share` of the requests go to the streaming Function URL (with EnableStreaming); `features`
    are optional features (bench/measure.py) whose table writes are added to the parameters' own."""
    lines = []
    memory_gb = deployment.memory_mb / 1024
    streamed = requests * stream_share if deployment.streaming else 0.0
    rotations = 30.4 / deployment.rotation_days
    invocations = requests + rotations * 4
    lines.append(
        Line(
            "Lambda requests",
            max(0.0, invocations - FREE["lambda_requests"]) * price("lambda_request"),
            f"{invocations:,.0f} invocations",
        )
    )
    # The streaming function has containers, hence cold starts, of its own.
    cold_starts = min(requests - streamed, COLD_STARTS_PER_MONTH) + min(streamed, COLD_STARTS_PER_MONTH)
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
        through_api = requests - streamed
        lines.append(
            Line(
                "API Gateway HTTP API",
                through_api * price("http_api_request"),
                f"{through_api:,.0f} requests",
            )
        )
    if deployment.streaming:
        detail = f"{streamed:,.0f} streamed requests: no per-request charge, none writes 6 MB"
        lines.append(Line("Streaming Function URL", 0.0, detail))
    features = tuple(dict.fromkeys((*deployment.features, *features)))
    lines.append(_dynamodb(deployment, measured, requests, cacheable_share, features))
    if deployment.point_in_time_recovery:
        lines.append(_point_in_time_recovery(requests, cacheable_share))
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
    lines.append(
        _logs(deployment, measured, requests, 0.0 if deployment.function_url else requests - streamed)
    )
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


def _dynamodb(
    deployment: Deployment,
    measured: Measured,
    requests: int,
    cacheable_share: float,
    features: tuple[str, ...],
) -> Line:
    # The response cache: a read per cacheable request, a write per miss (every one a miss: the bound).
    cacheable = requests * cacheable_share
    writes = requests * measured.dynamodb_writes_per_request + cacheable * measured.cache_writes_per_miss
    for feature in features:
        writes += requests * (
            measured.feature_writes_per_request[feature] - measured.dynamodb_writes_per_request
        )
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


def _point_in_time_recovery(requests: int, cacheable_share: float) -> Line:
    cache_entries = requests * cacheable_share * min(1.0, CACHE_TTL_S / SECONDS_PER_MONTH)
    size_gb = (CALLER_ITEMS_BYTES + cache_entries * CACHE_ENTRY_BYTES) / GIB
    return Line(
        "DynamoDB backups (PITR)",
        size_gb * price("dynamodb_pitr_gb_month"),
        f"point-in-time recovery of a {size_gb * 1024:,.1f} MB table",
    )


def _logs(deployment: Deployment, measured: Measured, requests: int, through_api: float) -> Line:
    ingested_gb = requests * (measured.log_bytes_per_request + LAMBDA_PLATFORM_LOG_BYTES) / GIB
    ingested_gb += through_api * deployment.access_log_bytes / GIB  # with HttpApiAccessLogs
    stored_gb = ingested_gb * LOG_COMPRESSION * deployment.log_retention_days / 30.4
    free_left = max(0.0, FREE["log_gb"] - ingested_gb)
    usd = max(0.0, ingested_gb - FREE["log_gb"]) * price("log_ingest_gb") + max(
        0.0, stored_gb - free_left
    ) * price("log_storage_gb_month")
    access = (
        f" (HTTP API access lines {deployment.access_log_bytes} bytes each)"
        if deployment.access_log_bytes
        else ""
    )
    return Line(
        "CloudWatch Logs",
        usd,
        f"{ingested_gb:.2f} GB ingested{access}, kept {deployment.log_retention_days} days",
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

"""AWS's us-east-1 list prices and always-free allowances the cost estimate uses, and the billing units
they are counted in. When AWS changes a price, this is the one place to change (with PRICES_TAKEN).

Every always-free allowance is per account (DynamoDB's per account and region): a second stack, or
anything else in the account, shares it."""

PRICES_TAKEN = "2026-11-29"
HOURS_PER_MONTH = 730
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
GIB = 1024**3

# USD, us-east-1. Each: (price, unit, always-free allowance per month or account).
PRICES: dict[str, tuple[float, str, str]] = {
    "lambda_request": (0.20 / 1e6, "per request", "1,000,000 requests"),
    "lambda_gb_second_arm": (0.0000133334, "per GB-second (arm64)", "400,000 GB-seconds"),
    "http_api_request": (1.00 / 1e6, "per request (HTTP API)", "none after the first 12 months"),
    "function_url_request": (0.0, "per request (Function URL: Lambda's request price only)", "-"),
    "streamed_response_gb": (0.008, "per GB a streaming function writes past 6 MB in one response", "-"),
    "dynamodb_wcu_hour": (0.00065, "per provisioned WCU-hour", "25 WCU per account and region, all tables"),
    "dynamodb_rcu_hour": (0.00013, "per provisioned RCU-hour", "25 RCU per account and region, all tables"),
    "dynamodb_write_request": (0.625 / 1e6, "per on-demand write request unit", "none"),
    "dynamodb_read_request": (0.125 / 1e6, "per on-demand read request unit", "none"),
    "dynamodb_pitr_gb_month": (0.20, "per GB-month of table size with point-in-time recovery", "none"),
    "metric_series_month": (0.30, "per custom metric series", "10 series"),
    "alarm_metric_month": (0.10, "per standard alarm metric", "10 alarm metrics"),
    "dashboard_month": (3.00, "per dashboard", "3 dashboards (50 metrics each)"),
    "log_ingest_gb": (0.50, "per GB of logs ingested", "5 GB of logs (ingested + stored)"),
    "log_storage_gb_month": (0.03, "per GB-month of compressed log storage", "(within the 5 GB)"),
    "secret_month": (0.40, "per Secrets Manager secret", "none"),
    "secret_api_call": (0.05 / 10_000, "per Secrets Manager API call", "none"),
    "ssm_standard_parameter": (0.0, "SSM standard parameter, standard throughput", "free"),
    "scheduler_invocation": (1.00 / 1e6, "per EventBridge Scheduler invocation", "14,000,000 invocations"),
}
FREE = {
    "lambda_requests": 1_000_000,
    "lambda_gb_seconds": 400_000,
    "dynamodb_wcu": 25,
    "dynamodb_rcu": 25,
    "metric_series": 10,
    "alarm_metrics": 10,
    "dashboards": 3,
    "log_gb": 5.0,
    "scheduler": 14_000_000,
}

# Provisioned read units an eventually consistent read takes.
EVENTUALLY_CONSISTENT_RCU = 0.5  # the cache's read of an item up to 4 KB


def price(name: str) -> float:
    """The price of one unit of `name` (a key of PRICES), in USD."""
    return PRICES[name][0]

"""Per-request figures measured from the code itself, for the cost model and the benchmark.

`measure()` runs the real handler in-process (moto for AWS, the built-in local model upstream) through
every outcome a request can have, and records:
- the custom metric series it emits (metric name x dimension values, ColdStart included), by default
  and with DETAILED_METRICS;
- the DynamoDB reads and writes of a served request, counted from botocore's own events;
- the table calls of what junk traffic sends: a refused request (in a container that knows nothing of
  the caller, the worst case) and a request with an unknown client key;
- the writes each optional feature adds to a served request (`OPTIONAL_FEATURES`);
- the bytes it logs per served request (access line + EMF), what CloudWatch Logs ingests;
- what the response cache adds to a cacheable request (a `seed` sent): reads per lookup, writes per miss.

Callers are told apart by the source IP in the request context (AUTH_MODE=none), so each outcome's
requests come from a source IP of their own: what one outcome leaves in the table (a used-up bucket or
budget) cannot change the next one's, however fast or slow the machine runs them.

This module says what is measured and from which requests; how the handler is run and watched (its
output, its table calls) is bench/handler_harness.py.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.handler_harness import (
    CHAT_BODY,
    captured_output,
    environment,
    metric_series,
    send_request,
    silent_server,
    table_calls,
    table_reads,
    table_writes,
)

SERVED_SAMPLES = 20
_SEEDED_BODY = CHAT_BODY[:-1] + b', "seed": 1}'  # cacheable under the default CACHE_MODE=seeded
_OUTCOMES = {
    "ok": 200,
    "cache_hit": 200,
    "input_rejected": 400,
    "auth_failed": 401,
    "rate_limited": 429,
    "budget_exceeded": 429,
    "upstream_error": 502,
    "upstream_timeout": 504,
}


# Optional features that add table writes to a served request, and the settings that turn them on
# ("route": the fields of a routes file's one route, served by the built-in local model). A new feature
# that writes (a cache, batches) adds itself here; `make cost` then prints its writes and checks the
# table's capacity with it.
OPTIONAL_FEATURES: dict[str, dict[str, str]] = {
    "GLOBAL_DAILY_TOKEN_BUDGET": {"GLOBAL_DAILY_TOKEN_BUDGET": "1000000000"},
    "routes with free_tokens_per_month": {"route": "free_tokens_per_month = 1000000"},
    "ZERO_COST (routes with allowances)": {
        "route": "free_tokens_per_month = 1000000\nprice_per_1k_tokens = 0.001",
        "ZERO_COST": "true",
    },
    # Each served Responses request keeps its turn: one PutItem (a write unit per KB of the turn).
    "stored Responses (POST /v1/responses)": {
        "path": "/v1/responses",
        "body": '{"input": "How far is the moon?", "max_output_tokens": 32}',
    },
}
_REQUEST_FIELDS = ("route", "path", "body")  # a feature's settings that are not variables
_ROUTES_FILE = """default = "general"

[[route]]
name = "general"
provider = "openai"
endpoint = "{url}"
model = "modelgate-local"
key = "env:MEASURE_LOCAL_KEY"
{fields}
"""


@dataclass(frozen=True)
class Measured:
    """The per-request figures `measure()` returns, which the cost model and capacity check read."""

    metric_series: int
    metric_series_detailed: int
    dynamodb_writes_per_request: float
    dynamodb_reads_per_request: float
    log_bytes_per_request: int
    cache_reads_per_cacheable_request: float = 0.0
    cache_writes_per_miss: float = 0.0
    dynamodb_writes_per_refusal: float = 1.0
    dynamodb_reads_per_refusal: float = 0.0
    dynamodb_reads_per_unknown_key: float = 1.0
    # Feature -> writes per served request with it on (the default's writes included).
    feature_writes_per_request: Mapping[str, float] = field(default_factory=dict)


# A fresh source IP (a caller of its own, with AUTH_MODE=none) for every use, across rounds.
_source_ips = (f"198.18.{number // 250}.{number % 250 + 1}" for number in itertools.count())


def _reservation(body: bytes) -> int:
    """What a chat request reserves against the budget (the input's upper bound plus max_tokens)."""
    from lib.core.request import ModelRequest

    fields = json.loads(body)
    return ModelRequest("chat", "", fields["max_tokens"], messages=tuple(fields["messages"])).reserved_tokens


def _each_outcome(model_url: str, table: str) -> Iterator[tuple[str, int]]:
    from lib import services

    base = {"AI_MODEL_ENDPOINT": model_url, "TABLE_NAME": table, "AUTH_MODE": "none"}

    def fresh(**overrides: str) -> None:
        os.environ.update({**base, **overrides})
        for name in ("RATE_LIMIT_BURST", "DAILY_TOKEN_BUDGET", "AI_MODEL_TIMEOUT_S"):
            if name not in overrides:
                os.environ.pop(name, None)
        services.reset()

    fresh()
    yield "ok", send_request(source_ip=next(_source_ips))
    caller = next(_source_ips)
    send_request(body=_SEEDED_BODY, source_ip=caller)
    yield "cache_hit", send_request(body=_SEEDED_BODY, source_ip=caller)
    yield "input_rejected", send_request(body=b'{"messages": []}', source_ip=next(_source_ips))
    fresh(AUTH_MODE="keys")
    yield "auth_failed", send_request()
    fresh(RATE_LIMIT_BURST="1", RATE_LIMIT_RPM="1")
    caller = next(_source_ips)
    send_request(source_ip=caller)  # takes this caller's only token
    yield "rate_limited", send_request(source_ip=caller)
    fresh(DAILY_TOKEN_BUDGET=str(_reservation(CHAT_BODY)), RATE_LIMIT_RPM="100000")
    caller = next(_source_ips)
    send_request(source_ip=caller)  # fits the day's budget exactly; its usage leaves too little for another
    yield "budget_exceeded", send_request(source_ip=caller)
    fresh(AI_MODEL_ENDPOINT="http://127.0.0.1:9/v1", AI_MODEL_MAX_RETRIES="0", RATE_LIMIT_RPM="100000")
    yield "upstream_error", send_request(source_ip=next(_source_ips))
    silent = silent_server()
    try:
        port = silent.getsockname()[1]
        fresh(
            AI_MODEL_ENDPOINT=f"http://127.0.0.1:{port}/v1", AI_MODEL_TIMEOUT_S="0.2", RATE_LIMIT_RPM="100000"
        )
        yield "upstream_timeout", send_request(source_ip=next(_source_ips))
    finally:
        silent.close()


def measure() -> Measured:
    from moto import mock_aws

    from local.aws import create_table
    from local.model import LocalModel

    model = LocalModel().start()
    aws_environment = {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_SERVICE_NAME": "modelgate",
        "POWERTOOLS_METRICS_NAMESPACE": "modelgate",
        "AI_MODEL_NAME": "modelgate-local",
        "AI_MODEL_MAX_RETRIES": "0",
    }
    try:
        with environment(aws_environment), mock_aws():
            import boto3
            from aws_lambda_powertools.metrics.provider import cold_start

            from lib import services

            os.environ.pop("AWS_ENDPOINT_URL", None)
            create_table(boto3.client("dynamodb"), "measure")
            cold_start.reset_cold_start_flag()  # a container's first request also emits ColdStart
            series: dict[bool, set[tuple[Any, ...]]] = {}
            for detailed in (False, True):
                os.environ["DETAILED_METRICS"] = str(detailed).lower()
                with captured_output() as output:
                    statuses = dict(_each_outcome(model.base_url, "measure"))
                assert statuses == _OUTCOMES, f"an outcome was not produced as intended: {statuses}"
                series[detailed] = metric_series(output.getvalue())
            os.environ["DETAILED_METRICS"] = "false"
            for left_by_an_outcome in ("AI_MODEL_TIMEOUT_S", "RATE_LIMIT_BURST", "ZERO_COST"):
                os.environ.pop(left_by_an_outcome, None)
            os.environ.update(
                {
                    "AI_MODEL_ENDPOINT": model.base_url,
                    "TABLE_NAME": "measure",
                    "RATE_LIMIT_RPM": "100000",
                    "DAILY_TOKEN_BUDGET": "1000000000",
                }
            )
            with captured_output() as output:
                served = table_calls(SERVED_SAMPLES, lambda: send_request(source_ip="198.19.0.1"))
            log_bytes = round(len(output.getvalue().encode()) / SERVED_SAMPLES)
            with captured_output():
                seeds = iter(range(100, 100 + SERVED_SAMPLES))
                cache = table_calls(
                    SERVED_SAMPLES,
                    lambda: send_request(
                        body=CHAT_BODY[:-1] + f', "seed": {next(seeds)}}}'.encode(), source_ip="198.19.0.3"
                    ),
                )
                refused, unknown_key = _junk_calls()
                features = {}
                for feature, settings in OPTIONAL_FEATURES.items():
                    with (
                        tempfile.TemporaryDirectory() as folder,
                        environment(_feature_environment(settings, model.base_url, Path(folder))),
                    ):
                        send = functools.partial(
                            send_request, **_feature_request(settings), source_ip="198.19.0.2"
                        )
                        calls = table_calls(SERVED_SAMPLES, send)
                    features[feature] = table_writes(calls) / SERVED_SAMPLES
            services.reset()
    finally:
        model.stop()
    return Measured(
        metric_series=len(series[False]),
        metric_series_detailed=len(series[True]),
        dynamodb_writes_per_request=table_writes(served) / SERVED_SAMPLES,
        dynamodb_reads_per_request=table_reads(served) / SERVED_SAMPLES,
        log_bytes_per_request=log_bytes,
        cache_reads_per_cacheable_request=(table_reads(cache) - table_reads(served)) / SERVED_SAMPLES,
        cache_writes_per_miss=(table_writes(cache) - table_writes(served)) / SERVED_SAMPLES,
        dynamodb_writes_per_refusal=table_writes(refused),
        dynamodb_reads_per_refusal=table_reads(refused),
        dynamodb_reads_per_unknown_key=table_reads(unknown_key),
        feature_writes_per_request=features,
    )


def _feature_environment(settings: Mapping[str, str], model_url: str, folder: Path) -> dict[str, str]:
    variables = {name: value for name, value in settings.items() if name not in _REQUEST_FIELDS}
    if "route" in settings:
        routes = folder / "routes.toml"
        routes.write_text(_ROUTES_FILE.format(url=model_url, fields=settings["route"]), encoding="utf-8")
        variables.update({"ROUTES_FILE": str(routes), "MEASURE_LOCAL_KEY": "local"})
    return variables


def _feature_request(settings: Mapping[str, str]) -> dict[str, Any]:
    """The request a feature is measured with (a chat completion unless it names its own)."""
    request: dict[str, Any] = {name: settings[name] for name in ("path", "body") if name in settings}
    if "body" in request:
        request["body"] = request["body"].encode()
    return request


def _junk_calls() -> tuple[Counter[str], Counter[str]]:
    """What junk traffic costs the table: one refused request, in a container that has never seen its
    caller (another container took the token), and one request with a client key nobody issued."""
    with environment({"RATE_LIMIT_RPM": "1", "RATE_LIMIT_BURST": "1"}):
        caller = next(_source_ips)
        table_calls(1, lambda: send_request(source_ip=caller))
        refused = table_calls(1, lambda: send_request(source_ip=caller), expect=429)
    with environment({"AUTH_MODE": "keys"}):
        junk = {"content-type": "application/json", "x-api-key": "mg-" + "0" * 43}
        unknown_key = table_calls(1, lambda: send_request(headers=junk), expect=401)
    return refused, unknown_key


if __name__ == "__main__":
    print(measure())

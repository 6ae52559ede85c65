"""Per-request figures measured from the code itself, for the cost model and the benchmark.

`measure()` runs the real handler in-process (moto for AWS, the built-in local model upstream) through
every outcome a request can have, and records:
- the custom metric series it emits (metric name x dimension values, ColdStart included), by default
  and with DETAILED_METRICS;
- the DynamoDB reads and writes of a served request, counted from botocore's own events;
- the bytes it logs per served request (access line + EMF), what CloudWatch Logs ingests;
- what the response cache adds to a cacheable request (a `seed` sent): reads per lookup, writes per miss.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

SERVED_SAMPLES = 20
_BODY = (
    b'{"messages": [{"role": "user", "content": "How far is the moon from the earth?"}], "max_tokens": 40}'
)
_SEEDED_BODY = _BODY[:-1] + b', "seed": 1}'  # cacheable under the default CACHE_MODE=seeded
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


@dataclass(frozen=True)
class Measured:
    metric_series: int
    metric_series_detailed: int
    dynamodb_writes_per_request: float
    dynamodb_reads_per_request: float
    log_bytes_per_request: int
    cache_reads_per_cacheable_request: float = 0.0
    cache_writes_per_miss: float = 0.0


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _captured_output() -> Iterator[io.StringIO]:
    """Everything the handler writes: the logger's stream and printed EMF."""
    import handler

    buffer = io.StringIO()
    stream_handler: Any = handler.logger.registered_handler
    previous = stream_handler.stream
    stream_handler.setStream(buffer)
    try:
        with contextlib.redirect_stdout(buffer):
            yield buffer
    finally:
        stream_handler.setStream(previous)


def _series(output: str) -> set[tuple[Any, ...]]:
    found = set()
    for line in output.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for dimensions in directive["Dimensions"]:
                values = tuple(sorted((name, blob[name]) for name in dimensions))
                for metric in directive["Metrics"]:
                    found.add((directive["Namespace"], metric["Name"], values))
    return found


def _request(
    path: str = "/v1/chat/completions",
    body: bytes | None = _BODY,
    headers: dict[str, str] | None = None,
    source_ip: str = "127.0.0.1",
) -> int:
    import handler
    from local.events import LambdaContext, http_api_event

    event = http_api_event(
        "POST",
        path,
        body=body,
        headers=list((headers or {"content-type": "application/json"}).items()),
        source_ip=source_ip,
    )
    return int(handler.api_handler(event, LambdaContext())["statusCode"])


def _silent_server() -> socket.socket:
    """Accepts connections and never answers: an upstream that times out."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    return server


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
    yield "ok", _request()
    _request(body=_SEEDED_BODY)
    yield "cache_hit", _request(body=_SEEDED_BODY)
    yield "input_rejected", _request(body=b'{"messages": []}')
    fresh(AUTH_MODE="keys")
    yield "auth_failed", _request()
    fresh(RATE_LIMIT_BURST="1", RATE_LIMIT_RPM="1")
    # A caller of its own (AUTH_MODE=none: one per source IP), so no earlier request's bucket state
    # decides the outcome: its first request takes the one token, the second is refused.
    _request(source_ip="203.0.113.7")
    yield "rate_limited", _request(source_ip="203.0.113.7")
    fresh(DAILY_TOKEN_BUDGET="1", RATE_LIMIT_RPM="100000")
    _request()
    yield "budget_exceeded", _request()
    fresh(AI_MODEL_ENDPOINT="http://127.0.0.1:9/v1", AI_MODEL_MAX_RETRIES="0", RATE_LIMIT_RPM="100000")
    yield "upstream_error", _request()
    silent = _silent_server()
    try:
        port = silent.getsockname()[1]
        fresh(
            AI_MODEL_ENDPOINT=f"http://127.0.0.1:{port}/v1", AI_MODEL_TIMEOUT_S="0.2", RATE_LIMIT_RPM="100000"
        )
        yield "upstream_timeout", _request()
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
        with _environment(aws_environment), mock_aws():
            import boto3
            from aws_lambda_powertools.metrics.provider import cold_start

            from lib import services

            os.environ.pop("AWS_ENDPOINT_URL", None)
            create_table(boto3.client("dynamodb"), "measure")
            cold_start.reset_cold_start_flag()  # a container's first request also emits ColdStart
            series: dict[bool, set[tuple[Any, ...]]] = {}
            for detailed in (False, True):
                os.environ["DETAILED_METRICS"] = str(detailed).lower()
                with _captured_output() as output:
                    statuses = dict(_each_outcome(model.base_url, "measure"))
                assert statuses == _OUTCOMES, f"an outcome was not produced as intended: {statuses}"
                series[detailed] = _series(output.getvalue())
            os.environ["DETAILED_METRICS"] = "false"
            os.environ.update(
                {
                    "AI_MODEL_ENDPOINT": model.base_url,
                    "TABLE_NAME": "measure",
                    "RATE_LIMIT_RPM": "100000",
                    "DAILY_TOKEN_BUDGET": "1000000000",
                    "AI_MODEL_TIMEOUT_S": "30",  # not the timeout outcome's 0.2 s
                }
            )
            services.reset()
            with _captured_output():
                _request()  # build the clients before counting
            client = services.get_services().limiter._table._client  # type: ignore[union-attr]
            calls: Counter[str] = Counter()
            client.meta.events.register("before-call", lambda model, **_: calls.update([model.name]))
            with _captured_output() as output:
                for _ in range(SERVED_SAMPLES):
                    assert _request() == 200
            writes = calls["UpdateItem"] + calls["PutItem"]
            reads = calls["GetItem"] + calls["Query"]
            cache_calls = _cache_calls(calls)
            services.reset()
    finally:
        model.stop()
    return Measured(
        metric_series=len(series[False]),
        metric_series_detailed=len(series[True]),
        dynamodb_writes_per_request=writes / SERVED_SAMPLES,
        dynamodb_reads_per_request=reads / SERVED_SAMPLES,
        log_bytes_per_request=round(len(output.getvalue().encode()) / SERVED_SAMPLES),
        cache_reads_per_cacheable_request=cache_calls[0] - reads / SERVED_SAMPLES,
        cache_writes_per_miss=cache_calls[1] - writes / SERVED_SAMPLES,
    )


def _cache_calls(calls: Counter[str]) -> tuple[float, float]:
    """Reads and writes per seeded request that misses (each seed once), with the same counter."""
    calls.clear()
    with _captured_output():
        for seed in range(SERVED_SAMPLES):
            assert _request(body=_BODY[:-1] + f', "seed": {seed + 100}}}'.encode()) == 200
    reads = calls["GetItem"] + calls["Query"]
    writes = calls["UpdateItem"] + calls["PutItem"]
    return reads / SERVED_SAMPLES, writes / SERVED_SAMPLES


if __name__ == "__main__":
    print(measure())

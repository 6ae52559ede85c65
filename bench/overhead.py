"""`make bench`: what the gateway adds to a request, measured on this machine.

1. Gateway overhead: the same chat request N times through `handler.api_handler` and N times
   directly to the same loopback upstream (the built-in local model); overhead = the difference
   at p50 and p99. Logging and EMF stay on (they are part of every request) and go to /dev/null.
2. The AWS API calls a served request makes with the DynamoDB-backed limits on (bench/measure.py
   counts them from botocore's own events).
3. Cold import of `handler` beside `import boto3` (the floor every Python Lambda pays), in fresh
   interpreters.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "1000"))
IMPORT_RUNS = int(os.environ.get("BENCH_IMPORT_RUNS", "7"))
BODY = b'{"messages": [{"role": "user", "content": "How far is the moon?"}], "max_tokens": 32}'


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@contextlib.contextmanager
def stdout_to_devnull() -> Iterator[None]:
    """Silence fd 1 (powertools' handlers hold their own reference to sys.stdout)."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(devnull)
        os.close(saved)


def timed(action: Callable[[], Any], count: int) -> list[float]:
    for _ in range(min(50, count)):  # warm connections and caches
        action()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def gateway_samples(count: int) -> tuple[list[float], list[float], list[float]]:
    from lib import services
    from local.events import LambdaContext, http_api_event
    from local.model import LocalModel

    model = LocalModel().start()
    os.environ.update({"AI_MODEL_ENDPOINT": model.base_url, "AI_MODEL_NAME": "modelgate-local"})
    import handler

    session = requests.Session()

    def direct() -> None:
        session.post(
            model.base_url + "/chat/completions", data=BODY, headers={"Content-Type": "application/json"}
        ).raise_for_status()

    upstream_ms: list[float] = []
    own_ms: list[float] = []

    def through_gateway() -> None:
        event = http_api_event(
            "POST", "/v1/chat/completions", body=BODY, headers=[("content-type", "application/json")]
        )
        started = time.perf_counter()
        response = handler.api_handler(event, LambdaContext())
        own_ms.append((time.perf_counter() - started) * 1000 - upstream_ms[-1])
        assert response["statusCode"] == 200, response

    # Time each request's own upstream call, to isolate the time spent in our code around it.
    upstream = services.get_services().upstream
    call = upstream.call

    def timed_call(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            upstream_ms.append((time.perf_counter() - started) * 1000)

    upstream.call = timed_call  # type: ignore[method-assign]
    with stdout_to_devnull():
        direct_ms = timed(direct, count)
        gateway_ms = timed(through_gateway, count)
    model.stop()
    return direct_ms, gateway_ms, own_ms[-count:]


def import_ms(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print((time.perf_counter() - t) * 1000)"
    runs = [
        float(subprocess.check_output([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": "."}))
        for _ in range(IMPORT_RUNS)
    ]
    return statistics.median(runs)


def main() -> None:
    os.environ.update(
        {
            "AUTH_MODE": "none",
            "POWERTOOLS_SERVICE_NAME": "modelgate",
            "POWERTOOLS_METRICS_NAMESPACE": "modelgate",
        }
    )
    for name in ("TABLE_NAME", "AWS_ENDPOINT_URL", "AI_MODEL_API_KEY", "AI_MODEL_SECRET_ID"):
        os.environ.pop(name, None)
    direct_ms, gateway_ms, own_ms = gateway_samples(REQUESTS)
    print(f"gateway overhead, {REQUESTS} chat requests to the same loopback upstream (no table):")
    print(f"  {'':24}{'p50 ms':>10}{'p99 ms':>10}")
    for label, samples in (("direct to upstream", direct_ms), ("through api_handler", gateway_ms)):
        print(f"  {label:24}{percentile(samples, 0.5):>10.3f}{percentile(samples, 0.99):>10.3f}")
    print(
        f"  {'overhead (difference)':24}{percentile(gateway_ms, 0.5) - percentile(direct_ms, 0.5):>10.3f}"
        f"{percentile(gateway_ms, 0.99) - percentile(direct_ms, 0.99):>10.3f}"
    )
    print(
        f"  {'our code per request':24}{percentile(own_ms, 0.5):>10.3f}{percentile(own_ms, 0.99):>10.3f}"
        "   (each request's total minus its own upstream call)"
    )

    from bench.measure import measure

    measured = measure()
    print("with the DynamoDB limits on (counted from botocore's events, bench/measure.py):")
    print(
        f"  AWS API calls per served request: {measured.dynamodb_writes_per_request:g} writes (UpdateItem), "
        f"{measured.dynamodb_reads_per_request:g} reads"
    )
    print(f"cold import, median of {IMPORT_RUNS} fresh interpreters:")
    print(f"  import boto3     {import_ms('import boto3'):8.1f} ms  (the floor)")
    print(f"  import handler   {import_ms('import handler'):8.1f} ms")


if __name__ == "__main__":
    main()

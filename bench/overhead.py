"""`make bench`: what the gateway adds to a request, measured on this machine.

1. The gateway's own time per request, as paired differences: each pair is one request made directly
   to the loopback upstream (the built-in local model) and, right after it, the same request
   through `handler.api_handler`; the pair's difference is what the gateway added to that request.
   Pairing cancels the drift of a shared machine that two separate runs (direct, then through) would
   each catch differently. p50 and p99 are taken over the differences themselves (at least 2,000
   pairs), never as a difference of two percentiles. Logging and EMF stay on (they are part of every
   request) and go to /dev/null.
2. The AWS API calls a served request makes with the DynamoDB-backed limits on (bench/measure.py
   counts them from botocore's own events).
The cold import is measured on the built function, not on this tree: bench/cold_import.py.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests

PAIRS = max(2000, int(os.environ.get("BENCH_PAIRS", "2000")))
WARMUP_PAIRS = 50
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


def paired_differences_ms(
    direct: Callable[[], Any],
    through: Callable[[], Any],
    pairs: int,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[list[float], list[float], list[float]]:
    """Per pair: the direct call's time, the gateway call's time (made right after), their difference."""
    for _ in range(WARMUP_PAIRS):  # warm connections and caches
        direct()
        through()
    direct_ms, through_ms, differences_ms = [], [], []
    for _ in range(pairs):
        started = clock()
        direct()
        between = clock()
        through()
        ended = clock()
        direct_ms.append((between - started) * 1000)
        through_ms.append((ended - between) * 1000)
        differences_ms.append(through_ms[-1] - direct_ms[-1])
    return direct_ms, through_ms, differences_ms


def gateway_samples(pairs: int) -> tuple[list[float], list[float], list[float], list[float]]:
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

    own_ms: list[float] = []

    def through_gateway() -> None:
        event = http_api_event(
            "POST", "/v1/chat/completions", body=BODY, headers=[("content-type", "application/json")]
        )
        started = time.perf_counter()
        response = handler.api_handler(event, LambdaContext())
        own_ms.append((time.perf_counter() - started) * 1000 - upstream_ms[-1])
        assert response["statusCode"] == 200, response

    upstream_ms = timing_upstream_calls()
    with stdout_to_devnull():
        direct_ms, gateway_ms, paired_ms = paired_differences_ms(direct, through_gateway, pairs)
    model.stop()
    return direct_ms, gateway_ms, paired_ms, own_ms[-pairs:]


def bench_environment() -> None:
    """No caller check, no table, no key: the gateway's own code and the loopback model alone."""
    os.environ.update(
        {
            "AUTH_MODE": "none",
            "POWERTOOLS_SERVICE_NAME": "modelgate",
            "POWERTOOLS_METRICS_NAMESPACE": "modelgate",
        }
    )
    for name in ("TABLE_NAME", "AWS_ENDPOINT_URL", "AI_MODEL_API_KEY", "AI_MODEL_SECRET_ID"):
        os.environ.pop(name, None)


def timing_upstream_calls() -> list[float]:
    """From now on each upstream call's time (ms) is appended to the list returned, to isolate the time
    spent in our code around it."""
    from lib import services

    upstream = services.get_services().upstream
    assert upstream is not None
    call = upstream.call
    upstream_ms: list[float] = []

    def timed_call(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            upstream_ms.append((time.perf_counter() - started) * 1000)

    upstream.call = timed_call  # type: ignore[method-assign]
    return upstream_ms


def main() -> None:
    bench_environment()
    direct_ms, gateway_ms, paired_ms, own_ms = gateway_samples(PAIRS)
    print(
        f"the gateway's own time per request: {PAIRS} pairs of the same chat request, direct to the "
        "loopback upstream and, right after, through api_handler (no table):"
    )
    print(f"  {'':38}{'p50 ms':>10}{'p99 ms':>10}")
    rows = (
        ("direct to upstream", direct_ms),
        ("through api_handler", gateway_ms),
        ("gateway's own time (pair difference)", paired_ms),
        ("our code around its upstream call", own_ms),
    )
    for label, samples in rows:
        print(f"  {label:38}{percentile(samples, 0.5):>10.3f}{percentile(samples, 0.99):>10.3f}")

    from bench.measure import measure

    measured = measure()
    print("with the DynamoDB limits on (counted from botocore's events, bench/measure.py):")
    print(
        f"  AWS API calls per served request: {measured.dynamodb_writes_per_request:g} writes (UpdateItem), "
        f"{measured.dynamodb_reads_per_request:g} reads"
    )


if __name__ == "__main__":
    main()

"""`make bench`: what the gateway adds to a request, measured on this machine.

1. The gateway's own time per request, as paired differences: each pair is one request made directly
   to the loopback upstream (the built-in local model) and, right after it, the same request
   through `handler.api_handler`; the pair's difference is what the gateway added to that request.
   Pairing cancels the drift of a shared machine that two separate runs (direct, then through) would
   each catch differently. p50 and p99 are taken over the differences themselves (at least 2,000
   pairs), never as a difference of two percentiles. Logging and EMF stay on (they are part of every
   request) and go to /dev/null. Each caller format (`FORMATS`: chat completions, the Responses API)
   is sent in every round, right after the direct call, so their own times are paired with each
   other too: "Responses API minus chat completions" is taken round by round.
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
from typing import Any, NamedTuple

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
    direct_ms, by_format = paired_formats_ms(direct, {"": through}, pairs, clock)
    through_ms, differences_ms = by_format[""]
    return direct_ms, through_ms, differences_ms


def paired_formats_ms(
    direct: Callable[[], Any],
    throughs: dict[str, Callable[[], Any]],
    pairs: int,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[list[float], dict[str, tuple[list[float], list[float]]]]:
    """Per round: the direct call's time, then each format's gateway call (made right after, in turn):
    its time and its difference from that round's direct call."""
    for _ in range(WARMUP_PAIRS):  # warm connections and caches
        direct()
        for through in throughs.values():
            through()
    direct_ms: list[float] = []
    by_format: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in throughs}
    for _ in range(pairs):
        started = clock()
        direct()
        direct_ms.append((clock() - started) * 1000)
        for name, through in throughs.items():
            started = clock()
            through()
            through_ms, differences_ms = by_format[name]
            through_ms.append((clock() - started) * 1000)
            differences_ms.append(through_ms[-1] - direct_ms[-1])
    return direct_ms, by_format


# The caller formats measured side by side, each round's requests one right after the other.
FORMATS = {
    "chat completions": ("/v1/chat/completions", BODY),
    "Responses API": ("/v1/responses", b'{"input": "How far is the moon?", "max_output_tokens": 32}'),
    "Messages API": (
        "/v1/messages",
        b'{"model": "modelgate-local", "max_tokens": 32,'
        b' "messages": [{"role": "user", "content": "How far is the moon?"}]}',
    ),
}


class Samples(NamedTuple):
    direct_ms: list[float]
    through_ms: dict[str, list[float]]  # per format: the request through api_handler
    paired_ms: dict[str, list[float]]  # per format: its difference from the round's direct call
    own_ms: dict[str, list[float]]  # per format: our code around its upstream call


def gateway_samples(pairs: int) -> Samples:
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
    own_ms: dict[str, list[float]] = {name: [] for name in FORMATS}

    def through(name: str) -> Callable[[], None]:
        path, body = FORMATS[name]

        def send() -> None:
            event = http_api_event("POST", path, body=body, headers=[("content-type", "application/json")])
            started = time.perf_counter()
            response = handler.api_handler(event, LambdaContext())
            own_ms[name].append((time.perf_counter() - started) * 1000 - upstream_ms[-1])
            assert response["statusCode"] == 200, response

        return send

    # Time each request's own upstream call, to isolate the time spent in our code around it.
    upstream = services.get_services().upstream
    assert upstream is not None, "the single-model route is always an HTTP provider"
    call = upstream.call

    def timed_call(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            upstream_ms.append((time.perf_counter() - started) * 1000)

    upstream.call = timed_call  # type: ignore[method-assign]
    with stdout_to_devnull():
        direct_ms, by_format = paired_formats_ms(direct, {name: through(name) for name in FORMATS}, pairs)
    model.stop()
    return Samples(
        direct_ms,
        {name: timed for name, (timed, _) in by_format.items()},
        {name: paired for name, (_, paired) in by_format.items()},
        {name: samples[-pairs:] for name, samples in own_ms.items()},
    )


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
    samples = gateway_samples(PAIRS)
    print(
        f"the gateway's own time per request: {PAIRS} rounds of the same question, direct to the loopback "
        f"upstream and, right after, through api_handler in each format ({', '.join(FORMATS)}; no table):"
    )
    rows = [("direct to upstream", samples.direct_ms)]
    for name in FORMATS:
        rows += [
            (f"{name}: through api_handler", samples.through_ms[name]),
            (f"{name}: gateway's own time (pair difference)", samples.paired_ms[name]),
            (f"{name}: our code around its upstream call", samples.own_ms[name]),
        ]
    chat = next(iter(FORMATS))
    for name in list(FORMATS)[1:]:
        rounds = zip(samples.own_ms[name], samples.own_ms[chat], strict=True)
        rows.append((f"{name} minus {chat} (own time, paired)", [own - chat_own for own, chat_own in rounds]))
    width = max(len(label) for label, _ in rows) + 2
    print(f"  {'':{width}}{'p50 ms':>10}{'p99 ms':>10}")
    for label, values in rows:
        print(f"  {label:{width}}{percentile(values, 0.5):>10.3f}{percentile(values, 0.99):>10.3f}")

    from bench.measure import measure

    measured = measure()
    print("with the DynamoDB limits on (counted from botocore's events, bench/measure.py):")
    print(
        f"  AWS API calls per served request: {measured.dynamodb_writes_per_request:g} writes (UpdateItem), "
        f"{measured.dynamodb_reads_per_request:g} reads"
    )


if __name__ == "__main__":
    main()

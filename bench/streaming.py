"""Streaming figures: what the gateway adds to a stream, measured side by side in one run.

    python -m bench.streaming        (part of `make bench`)

A paced loopback model (the built-in one, LOCAL_MODEL_PACE_S apart) streams the same answer to a
client directly and through the gateway's HTTP server (the one `make run` and the Function URL
run; limits off, logging and EMF on, sent to /dev/null). Requests alternate direct, through, and
each pair's difference is taken:
- time to first token: first content chunk through the gateway minus directly;
- gap between chunks: the median gap between content chunks, through minus directly.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import statistics
import time
from urllib.parse import urlsplit

PAIRS = int(os.environ.get("BENCH_STREAM_PAIRS", "60"))
PACE_S = "0.01"
BODY = {
    "model": "modelgate-local",
    "messages": [{"role": "user", "content": "one two three four five six seven eight nine ten"}],
    "max_tokens": 20,
    "stream": True,
}


def _stream(url: str) -> tuple[float, float]:
    """(seconds to the first content chunk, median seconds between content chunks), timing each event
    as its bytes arrive (read1: whatever the socket has, no client-side buffering)."""
    parts = urlsplit(url)
    assert parts.hostname, f"not an http:// URL: {url}"
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    started = time.perf_counter()
    connection.request(
        "POST", parts.path, body=json.dumps(BODY), headers={"Content-Type": "application/json"}
    )
    response = connection.getresponse()
    arrivals, buffer = [], b""
    while chunk := response.read1(65536):
        buffer += chunk
        *events, buffer = buffer.split(b"\n\n")
        for event in events:
            if event.startswith(b"data: {") and _has_content(event[6:]):
                arrivals.append(time.perf_counter() - started)
    connection.close()
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    return arrivals[0], statistics.median(gaps)


def _has_content(data: bytes) -> bool:
    choices = json.loads(data).get("choices") or [{}]
    return bool((choices[0].get("delta") or {}).get("content"))


def measure() -> dict[str, list[float]]:
    os.environ["LOCAL_MODEL_PACE_S"] = PACE_S
    from bench.overhead import stdout_to_devnull
    from local.model import LocalModel
    from local.server import serving

    model = LocalModel().start()
    saved = dict(os.environ)
    os.environ.update(
        {
            "AI_MODEL_ENDPOINT": model.base_url,
            "AI_MODEL_NAME": "modelgate-local",
            "AUTH_MODE": "none",
            "POWERTOOLS_SERVICE_NAME": "modelgate",
            "POWERTOOLS_METRICS_NAMESPACE": "modelgate",
        }
    )
    os.environ.pop("TABLE_NAME", None)
    first, gap = [], []
    try:
        import handler
        from lib import services

        services.reset()
        with stdout_to_devnull(), serving(handler.wsgi_app) as gateway:
            direct_url = f"{model.base_url}/chat/completions"
            through_url = f"{gateway}/v1/chat/completions"
            for _ in range(5):  # warm both paths
                _stream(direct_url)
                _stream(through_url)
            for _ in range(PAIRS):
                direct = _stream(direct_url)
                through = _stream(through_url)
                first.append((through[0] - direct[0]) * 1000)
                gap.append((through[1] - direct[1]) * 1000)
        services.reset()
    finally:
        model.stop()
        os.environ.clear()
        os.environ.update(saved)
    return {"first": first, "gap": gap}


def main() -> None:
    figures = measure()
    for name, label in (("first", "time to first token"), ("gap", "gap between chunks")):
        samples = sorted(figures[name])
        p50 = statistics.median(samples)
        p90 = samples[min(len(samples) - 1, round(0.9 * (len(samples) - 1)))]
        print(f"stream, {label}, through minus direct ({PAIRS} pairs): p50 {p50:.2f} ms, p90 {p90:.2f} ms")


if __name__ == "__main__":
    main()

"""The harness the benches run the real handler in, in-process (bench/measure.py, bench/routing.py): a
request through api_handler as the HTTP API would send it, environment variables set for a while, the
handler's output captured (log lines and EMF), the custom metric series read from that EMF, the
DynamoDB calls of a run of requests counted from botocore's own events, and an upstream that never
answers. Which outcomes to produce and what the figures are for is the callers' business."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

# The request a measurement sends unless it says otherwise: a short chat completion.
CHAT_BODY = (
    b'{"messages": [{"role": "user", "content": "How far is the moon from the earth?"}], "max_tokens": 40}'
)


def send_request(
    path: str = "/v1/chat/completions",
    body: bytes | None = CHAT_BODY,
    headers: dict[str, str] | None = None,
    source_ip: str = "127.0.0.1",
) -> int:
    """One request through the real api_handler, as the HTTP API would send it; its status code."""
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


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """`values` set for the block; afterwards the environment as it was, whatever the block changed."""
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def captured_output() -> Iterator[io.StringIO]:
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


def metric_series(output: str) -> set[tuple[Any, ...]]:
    """The custom metric series in the EMF lines of `output`: (namespace, metric, dimension values)."""
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


def table_calls(count: int, request: Callable[[], int], expect: int = 200) -> Counter[str]:
    """The DynamoDB calls of `count` requests in a fresh container (its clients built first)."""
    from lib import services

    services.reset()
    client = services.get_services().limiter._table._client  # type: ignore[union-attr]
    calls: Counter[str] = Counter()

    def count_call(model: Any, **_: Any) -> None:
        calls.update([model.name])

    client.meta.events.register("before-call", count_call)
    try:
        for _ in range(count):
            status = request()
            assert status == expect, f"expected {expect}, got {status}"
    finally:
        client.meta.events.unregister("before-call", count_call)
    return calls


def table_writes(calls: Counter[str]) -> int:
    """The write calls among `calls`: each takes write units (one per KB)."""
    return calls["UpdateItem"] + calls["PutItem"]


def table_reads(calls: Counter[str]) -> int:
    """The read calls among `calls`."""
    return calls["GetItem"] + calls["Query"]


def silent_server() -> socket.socket:
    """Accepts connections and never answers: an upstream that times out."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    return server

"""The gateway as an HTTP server: `make run` locally, and inside the streaming Lambda function behind
the Lambda Web Adapter (`python -m handler`, started by run.sh), so what streams on AWS is
what is tested locally.

waitress (a pure-Python production WSGI server) does the HTTP: keep-alive, chunked requests, a real
listen backlog, clients that hang up, and a streamed reply written piece by piece, within the limits
lib/http/waitress_limits.py sets (bodies, connections). Requests are handled one at a time, as one
Lambda container handles them: others wait in the backlog, they are not refused. `READY_PATH`
answers 200 whenever the process can serve, for the adapter's readiness check (not /health, which
answers 503 while the gateway is unconfigured, so that the 503 naming the missing variable reaches
the caller).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger

from lib.http.events import BEHIND_ADAPTER, context_from_wsgi, event_from_wsgi
from lib.http.gateway import Gateway
from lib.platform.config import LAMBDA_MAX_PAYLOAD_BYTES

READY_PATH = "/_ready"
# A connection that sends nothing this long is closed (`make run`); behind the adapter, the longest a
# Lambda function may run.
IDLE_TIMEOUT_S = 60.0
ADAPTER_IDLE_TIMEOUT_S = 900.0
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class WsgiGateway:
    def __init__(self, gateway: Gateway, logger: Logger) -> None:
        self._gateway = gateway
        self._logger = logger
        self._one_at_a_time = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == READY_PATH:
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ready\n"]
        body = environ["wsgi.input"].read() or None  # waitress has read and bounded it already
        event = event_from_wsgi(environ, body)
        self._one_at_a_time.acquire()
        try:
            self._logger.set_correlation_id(event["requestContext"]["requestId"])
            answer = self._gateway.handle(event, context_from_wsgi(environ), flush_metrics=True)
            headers = [(name, value) for name, value in answer.headers.items() if name.lower() not in _HOP]
            headers += [("Set-Cookie", cookie) for cookie in answer.cookies]
            if answer.length is not None:
                # Without it waitress must end the body by closing the connection: no keep-alive.
                headers.append(("Content-Length", str(answer.length)))
            start_response(f"{answer.status} {_reason(answer.status)}", headers)
        except BaseException:
            self._one_at_a_time.release()
            raise
        body = answer.body
        if environ.get("REQUEST_METHOD") == "HEAD":
            # The gateway answers HEAD as GET; on a kept-alive connection the body must not follow.
            body = _headers_only(body)
        return _Releasing(body, self._one_at_a_time.release)


class _Releasing:
    """The body, and the one-at-a-time lock released when the server closes it (always, per WSGI)."""

    def __init__(self, body: Iterator[bytes], release: Callable[[], None]) -> None:
        self._body = body
        self._release = release
        self._released = False

    def __iter__(self) -> Iterator[bytes]:
        return self._body

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if callable(close):
                close()
        finally:
            if not self._released:
                self._released = True
                self._release()


def _headers_only(body: Iterator[bytes]) -> Iterator[bytes]:
    close = getattr(body, "close", None)
    if callable(close):
        close()  # a generator's end is where its telemetry is written
    return iter(())


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def create_server(
    app: Any,
    host: str,
    port: int,
    *,
    loop_timeout_s: float = 1.0,
    idle_timeout_s: float = IDLE_TIMEOUT_S,
) -> Any:
    """A waitress server for `app` (call `.run()`; `.close()` stops it within `loop_timeout_s`), held to
    the limits lib/http/waitress_limits.py describes: a body past Lambda's request payload is refused
    before it is read, many idle connections lock no one out, one idle `idle_timeout_s` is closed."""
    from lib.http.waitress_limits import limited_server  # waitress: only where a server runs

    return limited_server(
        app,
        host,
        port,
        max_body_bytes=LAMBDA_MAX_PAYLOAD_BYTES,
        idle_timeout_s=idle_timeout_s,
        loop_timeout_s=loop_timeout_s,
    )


def serve_on_adapter_port(app: Any) -> None:
    """Inside Lambda (run.sh): serve on the adapter's port until the container is recycled. Only this
    server believes the adapter's headers (lib/http/events.py): the adapter sets them itself."""
    port = int(os.environ.get("AWS_LWA_PORT") or os.environ.get("PORT") or "8080")

    def behind_adapter(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        environ[BEHIND_ADAPTER] = True
        return app(environ, start_response)

    # The adapter keeps its connections between invocations, and a frozen container's clock runs on:
    # closing them for idleness after a thaw would break the adapter's next request.
    create_server(behind_adapter, "127.0.0.1", port, idle_timeout_s=ADAPTER_IDLE_TIMEOUT_S).run()

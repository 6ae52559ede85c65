"""A real HTTP server on loopback in front of the embedded AWS (moto) that a test can break mid-run.

Modes, switched at any time (each request reads the mode when it arrives):
    "ok"         forward to moto
    "throttled"  answer as DynamoDB does when over capacity (HTTP 400 ProvisionedThroughputExceeded)
    "frozen"     accept the request and never answer (until the test ends)
    "down"       drop the connection without an answer; `stop()` also closes the port (refused)
`fail_after(n, mode)` lets n requests through first, so a test can break the store between a
request's admission and its settlement.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tests.support.loopback import LoopbackHTTPServer

THROTTLED_BODY = (
    b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",'
    b'"message":"The level of configured provisioned throughput for the table was exceeded."}'
)


class FaultyStore:
    def __init__(self, target_url: str) -> None:
        target = urlsplit(target_url)
        self._target = (target.hostname or "127.0.0.1", target.port or 80)
        self.mode = "ok"
        self._after: tuple[int, str] | None = None
        self.requests = 0
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._server = LoopbackHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultyStore:
        self._thread.start()
        return self

    def fail_after(self, requests: int, mode: str) -> None:
        with self._lock:
            self._after = (self.requests + requests, mode)

    def stop(self) -> None:
        self.mode = "down"
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def _mode_for_next(self) -> str:
        with self._lock:
            self.requests += 1
            if self._after is not None and self.requests > self._after[0]:
                self.mode, self._after = self._after[1], None
            return self.mode

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        store = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else a body written after its headers waits 40 ms for an ACK

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                mode = store._mode_for_next()
                if mode == "frozen":
                    store._released.wait(30)
                    self.close_connection = True
                    return
                if mode == "down":
                    self.close_connection = True
                    return
                if mode == "throttled":
                    self._reply(400, {"Content-Type": "application/x-amz-json-1.0"}, THROTTLED_BODY)
                    return
                connection = http.client.HTTPConnection(*store._target, timeout=10)
                try:
                    headers = {name: value for name, value in self.headers.items() if name.lower() != "host"}
                    connection.request("POST", self.path, body=body, headers=headers)
                    answer = connection.getresponse()
                    self._reply(answer.status, dict(answer.getheaders()), answer.read())
                finally:
                    connection.close()

            def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in (
                        "content-length",
                        "transfer-encoding",
                        "connection",
                        "server",
                        "date",
                    ):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

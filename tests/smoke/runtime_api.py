"""A loopback stand-in for the Lambda Runtime API, and a function started from the artifact against it.

The runtime interface client (`python -m awslambdaric handler.api_handler`, as Lambda's Python runtime
starts a function) asks `GET /2018-06-01/runtime/invocation/next` for each event and posts the result
to `.../invocation/<id>/response` (or `/error`); an import failure goes to `/runtime/init/error`.
`Function.invoke(event)` hands one event over that protocol and returns what the function answered.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests.support.loopback import LoopbackHTTPServer

PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:smoke"


class RuntimeApi:
    def __init__(self, timeout_s: int = 30) -> None:
        self.timeout_s = timeout_s
        self._events: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._results: dict[str, queue.Queue[tuple[str, Any]]] = {}
        self.init_error: Any = None
        self._server = LoopbackHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def invoke(self, event: dict[str, Any], wait_s: float = 60) -> tuple[str, Any]:
        """("response" or "error", the JSON the function posted)."""
        request_id = str(uuid.uuid4())
        self._results[request_id] = queue.Queue()
        self._events.put((request_id, json.dumps(event).encode()))
        try:
            return self._results[request_id].get(timeout=wait_s)
        except queue.Empty:
            raise AssertionError(
                f"the function answered nothing within {wait_s} s: {self.init_error}"
            ) from None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # the client keeps its connection, as with Lambda's

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != f"{PREFIX}/invocation/next":
                    return self._reply(404, b"{}")
                request_id, body = api._events.get()  # the function waits here for its next event
                deadline_ms = int((time.time() + api.timeout_s) * 1000)
                headers = {
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                    "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
                    "Content-Type": "application/json",
                }
                self._reply(200, body, headers)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length) or b"null")
                parts = self.path[len(PREFIX) :].strip("/").split("/")
                if parts == ["init", "error"]:
                    api.init_error = payload
                elif len(parts) == 3 and parts[0] == "invocation" and parts[1] in api._results:
                    api._results[parts[1]].put((parts[2], payload))
                else:
                    return self._reply(404, b"{}")
                self._reply(202, b'{"status": "OK"}')

            def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in {**(headers or {}), "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        return Handler


class Function:
    """One function of the artifact under awslambdaric, as Lambda's Python runtime starts it."""

    def __init__(self, python: Path, artifact: Path, handler: str, environment: dict[str, str]) -> None:
        self.runtime = RuntimeApi()
        self.log = artifact.parent / f"smoke-{handler}.log"
        variables = {
            "PATH": f"{python.parent}:/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "LAMBDA_TASK_ROOT": str(artifact),
            "_HANDLER": handler,
            "AWS_LAMBDA_RUNTIME_API": self.runtime.address,
            "AWS_LAMBDA_FUNCTION_NAME": f"modelgate-{handler}",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            **environment,
        }
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                [str(python), "-m", "awslambdaric", handler],
                cwd=artifact,  # /var/task: the artifact alone, beside the runtime's own boto3
                env=variables,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def invoke(self, event: dict[str, Any]) -> tuple[str, Any]:
        if self._process.poll() is not None:
            raise AssertionError(f"the function exited: {self.output()[-3000:]}")
        return self.runtime.invoke(event)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self.runtime.stop()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def lambda_environment(region: str, access: tuple[str, str], endpoint: str) -> dict[str, str]:
    """What Lambda adds to every function's environment (a role's credentials, the region), with AWS
    reached at the local server."""
    return {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": access[0],
        "AWS_SECRET_ACCESS_KEY": access[1],
        "AWS_ENDPOINT_URL": endpoint,
        "HOME": os.environ.get("HOME", "/tmp"),
    }

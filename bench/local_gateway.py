"""`make run` as a child process on a free loopback port, for `make load`, `make fuzz` and their tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

import requests

REPO = Path(__file__).resolve().parent.parent
# Limits high enough never to be the answer (the load checks the accounting, not the limits), and
# the built-in model streaming without its 20 ms between tokens (the gateway is measured, not it).
LOAD_SETTINGS = {"RATE_LIMIT_RPM": "100000", "DAILY_TOKEN_BUDGET": str(10**12), "LOCAL_MODEL_PACE_S": "0"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def local_gateway(settings: Mapping[str, str] = LOAD_SETTINGS, start_timeout_s: float = 60) -> Iterator[str]:
    """Start `python -m local.server` (what `make run` runs) with `settings`; yield its base URL."""
    port = free_port()
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AI_MODEL_", "AWS_", "TABLE_NAME", "AUTH_MODE", "RATE_LIMIT_"))
    }
    env.update(settings)
    env["PORT"] = str(port)
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile("w+") as errors:  # a file, so that a full pipe never blocks the server
        process = subprocess.Popen(
            [sys.executable, "-m", "local.server"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,  # a JSON line per request: not what a load run wants to print
            stderr=errors,
            text=True,
        )
        try:
            _wait_until_serving(url, process, errors, start_timeout_s)
            yield url
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_serving(url: str, process: subprocess.Popen[str], errors: IO[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            errors.seek(0)
            raise RuntimeError(f"make run exited: {errors.read()[-2000:]}")
        # The port is bound before the stack behind it starts: a request waits in the backlog meanwhile
        with contextlib.suppress(requests.ConnectionError, requests.Timeout):
            if requests.get(f"{url}/health", timeout=5).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"make run did not serve within {timeout_s:.0f} s")
        time.sleep(0.2)

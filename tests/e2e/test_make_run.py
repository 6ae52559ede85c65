"""`make run` as a user starts it: a real process, the embedded AWS, the built-in model, and a clean stop."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_serves_with_no_aws_and_no_key_and_stops_cleanly(stop_signal):
    port = free_port()
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AI_MODEL_", "AWS_", "TABLE_NAME", "AUTH_MODE"))
    }
    env["PORT"] = str(port)
    process = subprocess.Popen(  # SIGINT restored to its default, as in a terminal
        [sys.executable, "-m", "local.server"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                reply = requests.post(
                    f"http://127.0.0.1:{port}/api/generate", json={"prompt": "hello"}, timeout=5
                )
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "make run did not start serving within 30 s"
                assert process.poll() is None, process.stdout.read()
                time.sleep(0.2)
        assert reply.status_code == 200 and reply.json()["text"].startswith("Local model reply")
        process.send_signal(stop_signal)
        output, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "model endpoint: the built-in local model" in output
    assert "modelgate: stopping" in output

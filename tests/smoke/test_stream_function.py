"""The streaming function's run.sh from the artifact, with the template's environment, spoken to as the
Lambda Web Adapter speaks to it: its readiness path, a streamed chat whose chunks arrive as the model
writes them, and one metrics line per request, written when the request ends (what CloudWatch gets)."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from lib.http.events import ADAPTER_LAMBDA_CONTEXT, ADAPTER_REQUEST_CONTEXT
from tests.smoke.conftest import Aws
from tests.smoke.runtime_api import free_port, lambda_environment
from tests.support.fake_upstream import Behaviour

HELLO = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 20}
STALL_S = 2.0  # the model's pause after its first word
WAIT_S = 20.0  # generous: a loaded two-core machine


class Lines:
    """The process's output lines as they arrive (its stdout is a pipe, as Lambda's is)."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for raw in stream:
            with self._changed:
                self.lines.append(raw.decode("utf-8", "replace"))
                self._changed.notify_all()

    def metrics(self) -> list[str]:
        return [line for line in self.lines if '"_aws"' in line and '"Requests"' in line]

    def access(self) -> list[str]:
        return [line for line in self.lines if '"message":"request"' in line]

    def wait_for_metrics(self, count: int) -> bool:
        """Whether the count-th metrics line arrives within WAIT_S."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self.metrics()) >= count, timeout=WAIT_S)


@pytest.fixture(scope="module")
def stream_function(aws: Aws, artifact, lambda_python) -> Iterator[tuple[str, Lines]]:
    port = free_port()
    environment = {
        **aws.stack.environment("StreamFunction"),
        **lambda_environment("us-east-1", aws.credentials["StreamFunction"], aws.endpoint),
        "AWS_LWA_PORT": str(port),  # the template's 8080 may be taken here
        "PATH": f"{lambda_python.parent}:/usr/bin:/bin",  # run.sh's python3: the runtime's
    }
    environment.pop("AWS_LAMBDA_EXEC_WRAPPER")  # the adapter's bootstrap, which starts run.sh: this test
    process = subprocess.Popen(
        ["sh", str(artifact / "run.sh")],
        cwd=artifact,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    lines = Lines(process.stdout)
    try:
        yield f"http://127.0.0.1:{port}", lines
    finally:
        process.terminate()
        process.wait(timeout=10)


def adapter_headers(key: str) -> dict[str, str]:
    """The headers the Web Adapter adds to each request it forwards."""
    request_id = str(uuid.uuid4())
    now_ms = int(time.time() * 1000)
    context = {"requestId": request_id, "timeEpoch": now_ms, "http": {"sourceIp": "203.0.113.9"}}
    lambda_context = {
        "request_id": request_id,
        "deadline": now_ms + 300_000,
        "env_config": {"function_name": "s"},
    }
    return {
        "authorization": f"Bearer {key}",
        ADAPTER_REQUEST_CONTEXT: json.dumps(context),
        ADAPTER_LAMBDA_CONTEXT: json.dumps(lambda_context),
    }


def test_readiness_chunks_as_written_and_a_metrics_line_per_request(stream_function, aws, model):
    url, lines = stream_function
    # Given the server answering its readiness path, as the adapter waits for before the first request
    ready_path = aws.stack.environment("StreamFunction")["AWS_LWA_READINESS_CHECK_PATH"]
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            if requests.get(url + ready_path, timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, "".join(lines.lines)[-3000:]
        time.sleep(0.1)

    # When a model pauses after its first word of a streamed answer
    model.then(Behaviour(stream_stall_after=1, stall_s=STALL_S))
    arrivals = []
    with requests.post(
        url + "/v1/chat/completions",
        json={**HELLO, "stream": True},
        headers=adapter_headers(aws.client_key),
        stream=True,
        timeout=WAIT_S,
    ) as reply:
        assert reply.status_code == 200, reply.text
        for line in reply.iter_lines():
            if line.startswith(b"data: ") and b'"content"' in line:
                arrivals.append(time.monotonic())
            if line == b"data: [DONE]":
                done = time.monotonic()
    # Then the first word arrived while the model was still pausing, not with the rest
    assert len(arrivals) >= 2 and done - arrivals[0] >= STALL_S / 2
    # And its metrics line was written when it ended, before any other request
    assert lines.wait_for_metrics(1), "no metrics line after the stream ended"

    # When two more requests are answered, one after the other
    for count, (method, path, body) in enumerate(
        [("POST", "/v1/chat/completions", HELLO), ("GET", "/v1/models", None)], start=2
    ):
        reply = requests.request(
            method, url + path, json=body, headers=adapter_headers(aws.client_key), timeout=30
        )
        assert reply.status_code == 200, reply.text
        # Then each one's metrics line is out when it ends
        assert lines.wait_for_metrics(count), f"request {count}'s metrics line did not come when it ended"
    assert len(lines.access()) == len(lines.metrics()) == 3
    assert '"message":"store error"' not in "".join(lines.lines)

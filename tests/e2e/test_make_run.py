"""`make run` as a user starts it: a real process, the embedded AWS, the built-in model, and a clean stop."""

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
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
    env.update({"PORT": str(port), "PYTHONFAULTHANDLER": "1"})
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
        wait_until_serving(f"http://127.0.0.1:{port}", process)
        reply = requests.post(f"http://127.0.0.1:{port}/api/generate", json={"prompt": "hello"}, timeout=30)
        assert reply.status_code == 200 and reply.json()["text"].startswith("Local model reply")
        # The openai SDK's embeddings, from the built-in model through the gateway (base64 by default)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none", max_retries=0)
        vectors = client.embeddings.create(model="modelgate-local", input=["a cat", "a dog"])
        assert [len(item.embedding) for item in vectors.data] == [len(vectors.data[0].embedding)] * 2
        assert vectors.usage.prompt_tokens == vectors.usage.total_tokens > 0
        process.send_signal(stop_signal)
        output = stopped_output(process)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    # Before it served, one block said what is on: the address, the auth mode, the built-in model and
    # the names a client may send, the limits, ZERO_COST, the cache and CORS
    lines = output.splitlines()
    first = lines.index(f"modelgate: serving http://127.0.0.1:{port} (Ctrl-C stops everything)")
    shown = [line.split()[0] for line in lines[first + 1 : first + 9]]
    assert shown == ["auth", "AWS", "model", "models", "limits", "ZERO_COST", "cache", "CORS"]
    assert "AUTH_MODE=none" in lines[first + 1] and "the built-in local model at" in lines[first + 3]
    assert " GET /health 200 " in lines[first + 9]  # then a line per request: the first the test's wait
    assert "modelgate: stopping" in output


def test_keys_mode_takes_a_burst_and_the_admin_commands_work_with_no_extra_setup(tmp_path):
    # Given `AUTH_MODE=keys make run`, with the key cache off so key changes show at once
    port, run_env = free_port(), tmp_path / "run.env"
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AI_MODEL_", "AWS_", "TABLE_NAME", "AUTH_MODE", "STACK"))
    }
    env.update({"PORT": str(port), "AUTH_MODE": "keys", "CALLER_CACHE_TTL_S": "0", "PYTHONFAULTHANDLER": "1"})
    process = subprocess.Popen(  # SIGINT restored to its default, as in a terminal (a suite run in the
        # background, as `make test &` or a CI runner starts it, ignores SIGINT, and so would make run)
        [sys.executable, "-m", "local.server", "--run-env", str(run_env)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    base = f"http://127.0.0.1:{port}"

    def admin(*args):
        done = subprocess.run(
            ["make", "--no-print-directory", "-s", *args, f"RUN_ENV={run_env}", f"PY={sys.executable}"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,  # each target starts Python and boto3: a minute or more on a loaded machine
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def generate(key):
        return requests.post(
            f"{base}/api/generate",
            json={"prompt": "hi"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        ).status_code

    try:
        wait_until_serving(base, process)
        assert run_env.exists()

        # When a first key is created the way the README says
        created = admin("keys-create", "NAME=first")
        key = created.split("key:")[1].split()[0]
        key_id = created.split("key id:")[1].split()[0]

        # Then 20 concurrent clients all get their answer, one at a time, none reset
        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(pool.map(generate, [key] * 20))
        assert statuses == [200] * 20
        # and clients that hang up early leave no traceback behind
        for partial in (
            b"POST /api/generate HTTP/1.1\r\nContent-Length: 50\r\n\r\n{",
            b"GET /health HTTP/1.1\r\n",
        ):
            with socket.create_connection(("127.0.0.1", port)) as hang_up:
                hang_up.sendall(partial)

        admin("keys-disable", f"KEY_ID={key_id}")
        assert generate(key) == 401
        # (several targets in one make, to keep the suite quick)
        listed, used = admin("keys-enable", "keys-list", "usage", f"KEY_ID={key_id}").split("usage for")
        assert generate(key) == 200
        assert f"{key_id}  first  yes" in listed
        assert f"{key_id}  first  20 " in used  # its requests today: the burst (the 401 is no request)
        process.send_signal(signal.SIGINT)
        output = stopped_output(process)
    finally:
        if process.poll() is None:
            process.kill()
    request_lines = [line for line in output.splitlines() if " /api/generate " in line]
    assert len(request_lines) == 22  # one short line per request, the JSON lines only with JSON_LOGS=1
    assert any(f"200 {key_id} modelgate-local" in line and line.endswith(" ms") for line in request_lines)
    assert "Traceback" not in output and '"level"' not in output and '"_aws"' not in output
    assert not run_env.exists()  # the admin settings go with the stack they point at


def wait_until_serving(base_url, process, within_s=90):
    """Waits for `make run` to answer /health: its port is bound at once, but the stack behind it
    (embedded AWS, built-in model, the handler's imports) takes seconds to start on a loaded machine,
    and a request sent meanwhile waits in the listen backlog."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            if requests.get(f"{base_url}/health", timeout=5).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        assert process.poll() is None, f"make run exited: {process.stdout.read()}"
        assert time.monotonic() < deadline, f"make run did not start serving within {within_s} s"
        time.sleep(0.2)


def stopped_output(process, within_s=60):
    """Waits for `make run` to stop after its signal (stopping the embedded AWS and the built-in model
    takes a second or two, longer on a loaded machine), and returns everything it printed."""
    try:
        output, _ = process.communicate(timeout=within_s)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)  # PYTHONFAULTHANDLER: every thread's stack, to see where it hangs
        output, _ = process.communicate(timeout=30)
        raise AssertionError(f"make run did not stop within {within_s} s:\n{output}") from None
    return output

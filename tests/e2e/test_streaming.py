"""Streams through the real HTTP server (the one `make run` and the Function URL run), with the
`openai` SDK as the client and a paced loopback upstream speaking OpenAI's stream format."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest
import requests

from lib import services
from lib.core.token_estimate import MESSAGE_TOKENS, REQUEST_TOKENS
from local.server import serving
from tests.support.eventstream import CONTENT_TYPE, text_answer
from tests.support.fake_upstream import Behaviour, FakeUpstream

REPO = Path(__file__).resolve().parents[2]
HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture
def gateway(aws, gateway_env):
    import handler

    gateway_env.setenv("RATE_LIMIT_RPM", "1000")
    gateway_env.setenv("DAILY_TOKEN_BUDGET", "100000")
    services.reset()
    with serving(handler.wsgi_app) as url:
        yield url


@pytest.fixture
def client(gateway):
    return openai.OpenAI(base_url=f"{gateway}/v1", api_key="mg-not-checked-in-auth-mode-none", max_retries=0)


def tokens_today(gateway) -> int:
    return requests.get(f"{gateway}/v1/usage", timeout=5).json()["tokens_today"]


def read_as_it_arrives(stream):
    """The streamed text, when each piece of it arrived (time.monotonic()), and the usage chunk's usage."""
    text, arrivals, usage = "", [], None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic())
            text += chunk.choices[0].delta.content
        if chunk.usage:
            usage = chunk.usage
    return text, arrivals, usage


def test_the_first_chunk_arrives_while_the_model_is_still_writing(client, gateway, upstream):
    words = tuple(f" w{index}" for index in range(8))
    upstream.then(Behaviour(words=words, pace_s=0.25))
    stream = client.chat.completions.create(
        model="test-model", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    text, arrivals, usage = read_as_it_arrives(stream)
    assert text == "".join(words)
    assert arrivals[-1] - arrivals[0] > 1.0  # spread out as written (8 x 0.25 s), not in one piece
    assert arrivals[0] < arrivals[-1] - 1.0
    assert usage.total_tokens == 15
    assert tokens_today(gateway) == 15  # the stream's own usage replaced the reservation


@pytest.fixture
def bedrock_route(gateway_env, tmp_path):
    """A routes file whose only route is Bedrock, served by a loopback server speaking ConverseStream."""
    server = FakeUpstream().start()
    model_id = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
    routes = tmp_path / "routes.toml"
    routes.write_text(f'[[route]]\nname = "claude"\nprovider = "bedrock"\nmodel = "{model_id}"\n')
    gateway_env.setenv("ROUTES_FILE", str(routes))
    gateway_env.setenv("BEDROCK_MODEL_IDS", model_id)
    gateway_env.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.base_url.removesuffix("/v1"))
    services.reset()
    yield server
    server.stop()


def test_a_bedrock_route_streams_as_converse_stream_writes(bedrock_route, client, gateway):
    words = tuple(f" w{index}" for index in range(8))
    frames = text_answer(*words, input_tokens=6, output_tokens=8)
    bedrock_route.then(Behaviour(parts=tuple(frames), pace_s=0.2, headers={"Content-Type": CONTENT_TYPE}))
    stream = client.chat.completions.create(
        model="claude", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    text, arrivals, usage = read_as_it_arrives(stream)
    assert text == "".join(words)
    assert (
        bedrock_route.parts_sent_at[-1] - arrivals[0] > 1.0
    )  # the first word was out long before the last frame
    assert arrivals[-1] - arrivals[0] > 1.0  # spread out as written, not in one piece
    assert (usage.prompt_tokens, usage.completion_tokens) == (6, 8)
    assert tokens_today(gateway) == 14  # Bedrock's own count replaced the reservation


def test_a_cut_in_mid_stream_raises_in_the_sdk_and_charges_the_input_and_what_streamed(
    client, gateway, upstream
):
    upstream.then(Behaviour(words=("a", " b", " c", " d"), stream_cut_after=2))
    stream = client.chat.completions.create(model="test-model", messages=HELLO, stream=True, max_tokens=40)
    received = ""
    with pytest.raises(openai.APIError, match="stream broke off"):
        for chunk in stream:
            if chunk.choices:
                received += chunk.choices[0].delta.content or ""
    assert received == "a b"
    # Usage unknown after a cut: the input's bound and what streamed (the provider stopped), not the
    # whole reservation (which counts max_tokens 40)
    assert tokens_today(gateway) == REQUEST_TOKENS + MESSAGE_TOKENS + len("Hello") + len("a b")


def test_a_malformed_chunk_ends_the_stream_with_an_error(client, upstream):
    upstream.then(Behaviour(words=("a", " b", " c"), stream_garbage_after=1))
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model="test-model", messages=HELLO, stream=True))


def test_an_idle_upstream_is_cut_at_the_idle_limit(gateway_env, client, upstream):
    gateway_env.setenv("STREAM_IDLE_TIMEOUT_S", "0.5")
    services.reset()
    upstream.then(Behaviour(words=("a", " b", " c"), stream_stall_after=1, stall_s=12))
    started = time.monotonic()
    with pytest.raises(openai.APIError, match=r"sent nothing for 0\.5 s"):
        list(client.chat.completions.create(model="test-model", messages=HELLO, stream=True))
    assert time.monotonic() - started < 6  # cut at the 0.5 s idle limit, not after the 12 s stall


def test_before_the_first_chunk_a_failure_is_retried(client, upstream):
    upstream.then(Behaviour(503), Behaviour(words=("fine",)))
    stream = client.chat.completions.create(model="test-model", messages=HELLO, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "fine"
    assert len(upstream.received) == 2


def test_a_caller_that_disconnects_stops_the_upstream_read_and_still_settles(gateway, upstream):
    words = tuple(f" w{index}" for index in range(40))
    upstream.then(Behaviour(words=words, pace_s=0.1))
    body = {"model": "test-model", "messages": HELLO, "stream": True, "max_tokens": 200}
    with requests.post(f"{gateway}/v1/chat/completions", json=body, stream=True, timeout=10) as reply:
        lines = reply.iter_lines()
        assert next(line for line in lines if line).startswith(b"data: ")
    deadline = time.monotonic() + 30  # room for a loaded machine (a gateway that reads on abandons nothing)
    while upstream.streams_abandoned == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert upstream.streams_abandoned == 1  # the gateway stopped reading, well before 40 x 0.1 s
    while tokens_today(gateway) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)  # the settlement, once the gateway has seen the caller go
    # Charged the input's bound and the words that streamed before the gateway saw the caller go, not
    # its reservation (which counts max_tokens 200)
    streamed = tokens_today(gateway) - (REQUEST_TOKENS + MESSAGE_TOKENS + len("Hello"))
    assert streamed in {len("".join(words[:count])) for count in range(len(words))}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_server_as_the_lambda_web_adapter_starts_it(upstream):
    """`python -m handler` on PORT (what run.sh does): the readiness path answers 200 even when
    the gateway is unconfigured, and the caller is the source IP of the adapter's request context."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AI_MODEL_", "TABLE_"))}
    env.update({"PORT": str(port), "AUTH_MODE": "none", "POWERTOOLS_SERVICE_NAME": "modelgate"})
    process = subprocess.Popen(
        [sys.executable, "-m", "handler"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        # Waits for the readiness path, as the adapter does: the handler's imports take a second, and
        # a minute or more on a heavily loaded machine
        deadline = time.monotonic() + 90
        while True:
            try:
                ready = requests.get(f"{base}/_ready", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.1)
        assert ready.status_code == 200
        unconfigured = requests.get(f"{base}/health", timeout=5)
        assert (
            unconfigured.status_code == 503 and "AI_MODEL_ENDPOINT" in unconfigured.json()["error"]["message"]
        )
        context = {
            "requestId": "adapter-req-1",
            "timeEpoch": int(time.time() * 1000),
            "http": {"sourceIp": "203.0.113.9"},
        }
        usage = requests.get(
            f"{base}/v1/usage", headers={"x-amzn-request-context": json.dumps(context)}, timeout=5
        )
        from lib.callers.identity import hash_key

        assert usage.json()["caller"] == "ip_" + hash_key("203.0.113.9")[:12]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def raw_exchange(base: str, request: bytes) -> bytes:
    """One HTTP/1.1 request as raw bytes (what a client library would refuse to send), the reply read
    until the server closes the connection or goes quiet."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(request)
        reply = b""
        try:
            while chunk := connection.recv(65536):
                reply += chunk
        except TimeoutError:
            pass
    return reply


class TestTheServerAsHttp:
    """What the standard library's development server got wrong (issue 10): one request is one reply."""

    def test_a_chunked_request_body_is_one_request(self, gateway):
        body = json.dumps({"prompt": "hello"}).encode()
        chunked = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
        reply = raw_exchange(
            gateway,
            b"POST /api/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked,
        )
        assert reply.startswith(b"HTTP/1.1 200") and reply.count(b"HTTP/1.1 ") == 1

    def test_a_negative_content_length_is_refused_at_once(self, gateway):
        started = time.monotonic()
        reply = raw_exchange(gateway, b"POST /api/generate HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 400") and time.monotonic() - started < 4

    def test_a_huge_content_length_gets_an_answer(self, gateway):
        request = b"POST /api/generate HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n{}"
        assert raw_exchange(gateway, request).startswith(b"HTTP/1.1 413")

    def test_a_whole_answer_keeps_the_connection_open_for_the_next_request(self, gateway):
        host, port = gateway.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            sockets = []
            for _ in range(2):
                connection.request(
                    "POST",
                    "/api/generate",
                    json.dumps({"prompt": "hello"}),
                    {"Content-Type": "application/json"},
                )
                sockets.append(connection.sock)
                reply = connection.getresponse()
                body = reply.read()
                assert reply.status == 200 and json.loads(body)["text"] == "hello from upstream"
                assert reply.getheader("Content-Length") == str(len(body))
                assert reply.getheader("Connection") != "close"
            assert sockets[0] is sockets[1] and sockets[1] is not None  # one connection, two requests
        finally:
            connection.close()

    def test_a_head_request_gets_no_body_on_a_kept_alive_connection(self, gateway):
        host, port = gateway.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            connection.request("HEAD", "/")
            head = connection.getresponse()
            assert head.status == 200 and int(head.getheader("Content-Length")) > 0
            assert head.read() == b""
            connection.request("GET", "/health")  # the same connection: no stray body in front of it
            reply = connection.getresponse()
            assert reply.status == 200 and json.loads(reply.read())["status"] == "ok"
        finally:
            connection.close()

    def test_a_stream_still_goes_out_chunked(self, gateway):
        body = {"messages": [{"role": "user", "content": "hi"}], "stream": True}
        reply = requests.post(f"{gateway}/v1/chat/completions", json=body, timeout=10)
        assert reply.status_code == 200 and reply.headers.get("Transfer-Encoding") == "chunked"
        assert "Content-Length" not in reply.headers and reply.text.rstrip().endswith("data: [DONE]")

"""Issue 21, hardening items 3 and 4 (and issue 20's body limit): what a client of the HTTP server
(`make run`, and the streaming function behind the Lambda Web Adapter) can hold of it, or claim.

Bounded in count and time, on loopback only: 1,000 idle connections, a body declared at 300 MB (never
sent), a chunked one cut off past 6 MiB."""

from __future__ import annotations

import json
import resource
import select
import socket
import time

import pytest
import requests

from lib import services
from lib.callers.identity import hash_key
from lib.http.waitress_limits import SPARE_DESCRIPTORS
from lib.platform.config import LAMBDA_MAX_PAYLOAD_BYTES
from local.server import serving

HALF_OPEN = 1000


@pytest.fixture
def gateway(gateway_env):
    import handler

    services.reset()
    with serving(handler.wsgi_app) as url:
        yield url


def address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def read_reply(connection: socket.socket) -> tuple[bytes, dict[str, str], bytes]:
    """Status line, headers and body of one reply with a Content-Length, read until it is complete."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    while len(body) < int(headers["content-length"]):
        body += connection.recv(65536)
    return status.encode(), headers, body


def test_a_request_is_answered_while_1000_half_open_connections_are_held(gateway):
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < 2 * HALF_OPEN + SPARE_DESCRIPTORS:
        pytest.skip(f"this process may open {soft} files: both ends of {HALF_OPEN} connections need more")
    # Given 1,000 connections that were opened and never sent a byte
    held = [socket.create_connection(address(gateway), timeout=5) for _ in range(HALF_OPEN)]
    try:
        # When an ordinary request comes (it waits for its answer, however long that takes, up to 30 s)
        started = time.monotonic()
        reply = requests.get(f"{gateway}/health", timeout=30)
        # Then it is answered (waitress's own limit of 100 would have left it in the backlog until an
        # idle connection timed out)
        assert reply.status_code == 200, f"after {time.monotonic() - started:.1f} s"
    finally:
        for connection in held:
            connection.close()


def openai_code(body: bytes) -> str:
    return str(json.loads(body)["error"]["code"])


def anthropic_type(body: bytes) -> str:
    reply = json.loads(body)
    assert reply["type"] == "error"
    return str(reply["error"]["type"])


@pytest.mark.parametrize(
    ("path", "error_code"), [("/v1/chat/completions", openai_code), ("/v1/messages", anthropic_type)]
)
def test_a_body_declared_larger_than_lambda_takes_is_refused_before_it_is_sent(gateway, path, error_code):
    # Given a request that declares 300 MB and sends nothing of it yet
    with socket.create_connection(address(gateway), timeout=10) as connection:
        connection.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n".encode()
            + b"Content-Length: 300000000\r\n\r\n"
        )
        # Then it is refused at once, in the caller's API's error shape, and the connection closed after
        status, headers, body = read_reply(connection)
        assert status.startswith(b"HTTP/1.1 413") and headers["connection"] == "close"
        assert error_code(body) == "request_too_large" and str(LAMBDA_MAX_PAYLOAD_BYTES) in body.decode()
        assert connection.recv(1) == b""


def test_a_chunked_body_is_refused_once_past_the_limit_and_not_read_further(gateway):
    # Given a chunked body that would go on for 300 MB
    chunk = b"x" * 65536
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent, answered = 0, False
    with socket.create_connection(address(gateway), timeout=10) as connection:
        connection.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        # When it is sent until the server answers (or stops taking it)
        while sent < 300_000_000:
            readable, writable, _ = select.select([connection], [connection], [], 10)
            if readable:
                answered = True
                break
            assert writable, "the server neither answered nor read on for 10 s"
            try:
                sent += connection.send(frame)
            except (BrokenPipeError, ConnectionResetError):
                break
        # Then the server answered 413 in OpenAI's shape once it had read past 6 MiB, long before the
        # end (what was sent beyond the limit sat in the sockets' buffers, which loopback sizes at a
        # few MB)
        assert answered, f"no answer after {sent} bytes"
        assert LAMBDA_MAX_PAYLOAD_BYTES < sent < LAMBDA_MAX_PAYLOAD_BYTES + 32 * 1024 * 1024
        status, _, body = read_reply(connection)
        assert status.startswith(b"HTTP/1.1 413")
        assert json.loads(body)["error"]["code"] == "request_too_large"


def test_a_body_under_the_limit_is_read_and_answered(gateway):
    big = {"messages": [{"role": "user", "content": "hi"}], "user": "x" * 1024 * 1024}
    reply = requests.post(f"{gateway}/v1/chat/completions", json=big, timeout=30)
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "input_too_long"  # not 413


def test_a_client_of_make_run_cannot_choose_its_source_ip(aws, gateway_env):
    import handler

    # Given `make run`'s server with a limit of 2 requests a minute per caller (the source IP), on a
    # table that may be slow but not absent (a loaded machine can take the in-process moto past the
    # 1.5 s a store call gets, which is not what this test is about)
    gateway_env.setenv("RATE_LIMIT_RPM", "2")
    gateway_env.setattr(services, "REQUEST_CALL_LIMIT_S", 30.0)
    services.reset()
    with serving(handler.wsgi_app) as url:
        # When one client sends 20 requests, each claiming another source IP in the adapter's header
        statuses = [
            requests.get(
                f"{url}/v1/models",
                headers={"x-amzn-request-context": json.dumps({"http": {"sourceIp": f"198.51.100.{n}"}})},
                timeout=10,
            ).status_code
            for n in range(20)
        ]
        usage = requests.get(f"{url}/v1/usage", timeout=10).json()
    # Then they are one caller, the socket's peer: 2 admitted, 18 refused
    assert statuses.count(200) == 2 and statuses.count(429) == 18
    assert usage["caller"] == "ip_" + hash_key("127.0.0.1")[:12]

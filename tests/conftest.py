"""Shared fixtures. Tests never leave the machine: pytest-socket allows loopback only (pyproject.toml),
the model API is `FakeUpstream` on 127.0.0.1, and AWS is moto."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.loaders
import botocore.session
import pytest
from moto import mock_aws

# Before any test module imports lib/: powertools' child loggers take the service name at import.
os.environ["POWERTOOLS_SERVICE_NAME"] = "modelgate"
os.environ["POWERTOOLS_METRICS_NAMESPACE"] = "modelgate"

from lib import services
from local.events import LambdaContext, http_api_event
from tests.support.aws_calls import Plugin as AwsCallsPlugin
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway_table import create_gateway_table

# moto gives every mock_aws() a new boto3 session, and each new session read botocore's service models
# and endpoint rules from disk again: 0.05 s a client (0.15 s on a loaded machine), a third of a moto
# test's setup. The sessions share one loader instead. It holds only botocore's own data files, never
# credentials or settings: each session still reads those afresh (a shared session kept one test's).
_BOTOCORE_DATA = botocore.loaders.create_loader()
botocore.session.create_loader = lambda search_path_string=None: _BOTOCORE_DATA

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"
TABLE_NAME = "modelgate-test"
# Every variable the gateway reads; each test starts from none of them set.
_GATEWAY_VARIABLES = (
    "AI_MODEL_",
    "MAX_PROMPT_CHARS",
    "MAX_INPUT_CHARS",
    "BLOCKED_PATTERNS",
    "SYSTEM_PROMPT",
    "TEMPERATURE_",
    "DEFAULT_MAX_TOKENS",
    "MAX_TOKENS_LIMIT",
    "MAX_BODY_BYTES",
    "AUTH_MODE",
    "TABLE_NAME",
    "RATE_LIMIT_",
    "DAILY_TOKEN_BUDGET",
    "GLOBAL_DAILY_TOKEN_BUDGET",
    "CALLER_CACHE_TTL_S",
    "AUTH_FAILURES_PER_MINUTE",
    "LOG_PROMPTS",
    "DETAILED_METRICS",
    "MODEL_PRICES",
    "AWS_ENDPOINT_URL",
    "ROUTES_FILE",
    "ZERO_COST",
    "BEDROCK_MODEL_IDS",
    "BREAKER_",
)


def pytest_configure(config: pytest.Config) -> None:
    """Every AWS call the code makes is recorded and checked against template.yaml's grants."""
    config.pluginmanager.register(AwsCallsPlugin(), "modelgate-aws-calls")


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def error(self) -> dict[str, Any]:
        return self.json["error"]


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    server = FakeUpstream().start()
    yield server
    server.stop()


@pytest.fixture
def bedrock_server() -> Iterator[FakeUpstream]:
    """A loopback server for Bedrock's wire format (tests/support/bedrock_loopback.py points boto3 at it)."""
    server = FakeUpstream().start()
    yield server
    server.stop()


@pytest.fixture
def gateway_env(monkeypatch: pytest.MonkeyPatch, upstream: FakeUpstream) -> Iterator[pytest.MonkeyPatch]:
    """A configured gateway (no table, AUTH_MODE=none) in front of the fake upstream."""
    for name in list(os.environ):
        if name.startswith(_GATEWAY_VARIABLES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AI_MODEL_ENDPOINT", upstream.base_url)
    monkeypatch.setenv("AI_MODEL_NAME", "test-model")
    monkeypatch.setenv("AI_MODEL_API_KEY", "sk-test-provider-key-0123456789abcdef")
    monkeypatch.setenv("AUTH_MODE", "none")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "modelgate")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "modelgate")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    services.reset()
    yield monkeypatch
    services.reset()


@pytest.fixture
def aws(gateway_env: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto in-process, with the gateway table created from template.yaml; yields a DynamoDB client."""
    with mock_aws():
        import boto3

        client = boto3.client("dynamodb", region_name="us-east-1")
        create_gateway_table(client, TABLE_NAME)
        gateway_env.setenv("TABLE_NAME", TABLE_NAME)
        # In-process moto on a loaded machine can take longer than DynamoDB's worst call: room for it.
        # (tests/integration/test_store_faults.py holds the gateway to the real limit, on its own store.)
        gateway_env.setattr(services, "REQUEST_CALL_LIMIT_S", 15.0)
        services.reset()
        yield client
        services.reset()


class Output:
    """What the handler printed: log lines (powertools' stream handler) and EMF blobs (printed)."""

    def __init__(self, buffer: io.StringIO, capsys: pytest.CaptureFixture[str]) -> None:
        self._buffer = buffer
        self._capsys = capsys
        self._printed = ""

    def text(self) -> str:
        self._printed += self._capsys.readouterr().out
        return self._buffer.getvalue() + self._printed

    def lines(self) -> list[dict[str, Any]]:
        return log_lines(self.text())

    def access_lines(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line.get("message") == "request"]

    def metric_blobs(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if "_aws" in line]


class _Tee(io.StringIO):
    def __init__(self, *streams: Any) -> None:
        super().__init__()
        self._streams = streams

    def write(self, text: str) -> int:
        for stream in self._streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self._streams:
            stream.flush()


@contextlib.contextmanager
def recording_logs() -> Iterator[io.StringIO]:
    """Copy everything the gateway's logger writes (its children too) into a buffer."""
    import handler

    buffer = io.StringIO()
    stream_handler = handler.logger.registered_handler
    previous = stream_handler.stream  # type: ignore[attr-defined]
    stream_handler.setStream(_Tee(previous, buffer))  # type: ignore[attr-defined]
    try:
        yield buffer
    finally:
        stream_handler.setStream(previous)  # type: ignore[attr-defined]


# What a provider key, a client key or an Authorization header looks like in this suite.
SECRET_PATTERN = re.compile(r"sk-[A-Za-z0-9_-]{8,}|mg-[A-Za-z0-9_-]{20,}|Bearer\s+[A-Za-z0-9_-]")


@pytest.fixture(autouse=True)
def _no_secret_in_any_log_line(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every log line of every test is scanned: no provider key, client key or Authorization value."""
    with recording_logs() as logged:
        yield
    if request.node.get_closest_marker("logs_a_secret_on_purpose"):
        return
    leaked = SECRET_PATTERN.findall(logged.getvalue())
    assert not leaked, f"secret-looking values were logged: {leaked[:3]}"


@pytest.fixture
def output(capsys: pytest.CaptureFixture[str]) -> Iterator[Output]:
    capsys.readouterr()
    with recording_logs() as buffer:
        yield Output(buffer, capsys)


def call(
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    raw_body: bytes | None = None,
    base64_body: bool = False,
    remaining_s: float = 30.0,
) -> Reply:
    """Send one API Gateway v2 event through `handler.api_handler`, as API Gateway would."""

    data = raw_body if raw_body is not None else (json.dumps(body).encode() if body is not None else None)
    header_items = list((headers or {"content-type": "application/json"}).items())
    event = http_api_event(method, path, body=data, headers=header_items)
    if base64_body and data is not None:
        event["body"] = base64.b64encode(data).decode()
        event["isBase64Encoded"] = True
    return invoke_event(event, remaining_s=remaining_s)


def invoke_event(event: dict[str, Any], remaining_s: float = 30.0) -> Reply:
    import handler

    response = handler.api_handler(event, LambdaContext(timeout_s=remaining_s))
    raw = response.get("body") or ""
    text = base64.b64decode(raw).decode() if response.get("isBase64Encoded") else raw
    headers = {name.lower(): str(value) for name, value in (response.get("headers") or {}).items()}
    return Reply(int(response["statusCode"]), headers, text)


def load_event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))
    return loaded


def log_lines(output: str) -> list[dict[str, Any]]:
    """The JSON lines the handler printed (access lines, EMF blobs, warnings)."""
    lines = []
    for line in output.split("\n"):  # not splitlines(): JSON strings may hold U+2028 or U+0085 as is
        line = line.strip()
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    return lines

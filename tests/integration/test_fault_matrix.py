"""Every upstream fault crossed with every endpoint that calls the model, through the whole handler.

For each: the status, the time taken (within the deadline), the retries, the metrics, and the usage
settled in the table (the reservation when the provider may have billed an answer we never got,
nothing when it refused). The deadline is kept small so the matrix stays fast.
"""

import email.utils
import time
from dataclasses import dataclass, field

import boto3
import pytest
import requests
from moto import mock_aws

from lib import services
from lib.core.token_estimate import MESSAGE_TOKENS, REQUEST_TOKENS
from lib.keys.sources import StaticKeySource
from lib.platform.deadline import Deadline
from lib.platform.errors import UpstreamError, UpstreamTimeout
from lib.platform.redaction import REDACTED
from lib.providers.call_stats import CallStats
from lib.providers.upstream import UpstreamClient
from tests.conftest import TABLE_NAME, call
from tests.support.fake_upstream import Behaviour, completion
from tests.support.gateway_table import create_gateway_table

TIMEOUT_S = 2.0  # small, yet above what admission, a backoff and a retry take on a busy machine
RESERVED = -1  # the request's reservation: its input's upper bound ("12345") plus max_tokens 10
RESERVATIONS = {
    "/api/generate": REQUEST_TOKENS + MESSAGE_TOKENS + 5 + 10,
    "/v1/chat/completions": REQUEST_TOKENS + MESSAGE_TOKENS + 5 + 10,
    "/v1/completions": REQUEST_TOKENS + 5 + 10,
}
ENDPOINTS = {
    "/api/generate": {"prompt": "12345", "max_tokens": 10},
    "/v1/chat/completions": {"messages": [{"role": "user", "content": "12345"}], "max_tokens": 10},
    "/v1/completions": {"prompt": "12345", "max_tokens": 10},
}


def past_date() -> str:
    return email.utils.formatdate(time.time() - 3600, usegmt=True)


@dataclass
class Fault:
    behaviours: list  # what the upstream does on each attempt (2 attempts: AI_MODEL_MAX_RETRIES=1)
    status: int
    retries: int
    charged: int  # tokens left in the budget: the reservation when the answer may have been billed
    min_elapsed_s: float = 0.0
    env: dict = field(default_factory=dict)


FAULTS = {
    "refused": Fault([], 502, 1, 0, env={"AI_MODEL_ENDPOINT": "http://127.0.0.1:9/v1"}),
    "reset before the answer": Fault([Behaviour(reset=True)] * 2, 502, 1, 0),
    "reset mid-body": Fault([Behaviour(cut_after=10)] * 2, 502, 1, RESERVED),
    "slow headers": Fault([Behaviour(header_drip_s=0.1)], 504, 0, RESERVED, min_elapsed_s=TIMEOUT_S),
    "slow body": Fault([Behaviour(drip_s=0.05)], 504, 0, RESERVED, min_elapsed_s=TIMEOUT_S),
    "429 without Retry-After": Fault([Behaviour(429, {})] * 2, 502, 1, 0),
    "429 Retry-After seconds past the deadline": Fault(
        [Behaviour(429, {}, headers={"Retry-After": "30"})], 502, 0, 0
    ),
    "429 Retry-After date in the past": Fault(
        [Behaviour(429, {}, headers={"Retry-After": past_date()})] * 2, 502, 1, 0, min_elapsed_s=0.1
    ),
    "429 Retry-After with a non-ASCII digit": Fault(
        [Behaviour(429, {}, headers={"Retry-After": "\u00b2"})] * 2, 502, 1, 0
    ),
    "5xx": Fault([Behaviour(503, {})] * 2, 502, 1, 0),
    "invalid JSON": Fault([Behaviour(body=b"<html>gateway error</html>")], 502, 0, RESERVED),
    "wrong shape": Fault([Behaviour(body={"object": "chat.completion"})], 502, 0, 0),
    "oversized": Fault([Behaviour(body={"pad": "x" * 4096})], 502, 0, RESERVED),
    "oversized with a non-ASCII Content-Length": Fault(
        [Behaviour(body={"pad": "x" * 4096}, headers={"Content-Length": "\u00b2"})], 502, 0, RESERVED
    ),
    "redirect": Fault(
        [Behaviour(302, b"", headers={"Location": "http://127.0.0.1:9/v1/elsewhere"})], 502, 0, 0
    ),
}


def metric_total(output, name: str) -> float:
    total = 0.0
    for blob in output.metric_blobs():
        if name in blob:
            values = blob[name] if isinstance(blob[name], list) else [blob[name]]
            total += sum(values)
    return total


@pytest.fixture(scope="module")
def table():
    """One moto table for the whole matrix (each case reads the change in the caller's usage)."""
    with mock_aws():
        create_gateway_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE_NAME)
        yield TABLE_NAME


def tokens_today() -> int:
    return int(call("GET", "/v1/usage").json["tokens_today"])


@pytest.mark.parametrize("path", list(ENDPOINTS))
@pytest.mark.parametrize("name", list(FAULTS))
def test_upstream_fault(name, path, table, gateway_env, upstream, output):
    fault = FAULTS[name]
    gateway_env.setenv("TABLE_NAME", table)
    gateway_env.setenv("AI_MODEL_TIMEOUT_S", str(TIMEOUT_S))
    gateway_env.setenv("AI_MODEL_MAX_RETRIES", "1")
    gateway_env.setenv("AI_MODEL_MAX_RESPONSE_BYTES", "1024")
    for variable, value in fault.env.items():
        gateway_env.setenv(variable, value)
    services.reset()
    before = tokens_today()
    upstream.then(*fault.behaviours)

    started = time.monotonic()
    reply = call("POST", path, ENDPOINTS[path])
    elapsed = time.monotonic() - started

    assert reply.status == fault.status, reply.text
    assert reply.error["code"] == ("upstream_timeout" if fault.status == 504 else "upstream_error")
    # Generous: the suite shares a busy machine. Without the deadline, slow headers took 7 s here.
    assert fault.min_elapsed_s <= elapsed < TIMEOUT_S + 3.0, f"took {elapsed:.2f} s"
    access = next(line for line in output.access_lines() if line["route"] == f"POST {path}")
    assert access["retries"] == fault.retries and access["status"] == fault.status
    assert metric_total(output, "UpstreamFailures") == 1 and metric_total(output, "Errors") == 1
    assert metric_total(output, "UpstreamCalls") == 1
    charged = RESERVATIONS[path] if fault.charged == RESERVED else fault.charged
    assert access["charged_tokens"] == charged
    assert tokens_today() - before == charged


PROVIDER_KEY = "sk-test-provider-key-0123456789abcdef"  # what gateway_env configures


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_an_upstream_that_echoes_the_request_does_not_hand_the_key_to_the_caller(path, gateway_env, upstream):
    # Given an upstream (or a proxy before it) that echoes the request's headers in fields of its own
    echoed = {"Authorization": f"Bearer {PROVIDER_KEY}"}
    body = completion(chat=path != "/v1/completions")
    body["debug"] = {"request_headers": echoed}
    body["choices"][0]["echo"] = echoed
    if "message" in body["choices"][0]:
        body["choices"][0]["message"]["headers"] = echoed
        body["choices"][0]["message"]["tool_calls"] = [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "f", "arguments": "{}", "x": echoed},
                "y": echoed,
            }
        ]
    body["usage"]["echo"] = echoed
    upstream.then(Behaviour(body=body))
    # When a caller asks
    reply = call("POST", path, ENDPOINTS[path])
    # Then the answer arrives with every field the provider sent (lossless), the gateway's key scrubbed
    assert reply.status == 200
    assert PROVIDER_KEY not in reply.text
    if path != "/api/generate":  # the original design's reply has fields of its own only
        assert reply.json["debug"] == {"request_headers": {"Authorization": f"Bearer {REDACTED}"}}
    if path == "/v1/chat/completions":
        message = reply.json["choices"][0]["message"]
        assert message["content"] == "hello from upstream"
        assert message["tool_calls"][0]["function"]["name"] == "f"
        assert message["tool_calls"][0]["y"] == {"Authorization": f"Bearer {REDACTED}"}


def test_the_model_list_is_built_from_known_fields(gateway_env, upstream):
    upstream.then(
        Behaviour(
            body={
                "object": "list",
                "data": [{"id": "m1", "object": "model", "owned_by": "x", "auth": f"Bearer {PROVIDER_KEY}"}],
                "echo": PROVIDER_KEY,
            }
        )
    )
    reply = call("GET", "/v1/models")
    assert reply.status == 200 and PROVIDER_KEY not in reply.text
    assert reply.json["data"] == [{"id": "m1", "object": "model", "created": 0, "owned_by": "x"}]


class TestUpstreamClient:
    """The same faults at the client, where the sleeps and the stats can be read exactly."""

    @staticmethod
    def client(upstream, sleeps):
        return UpstreamClient(
            [upstream.base_url],
            StaticKeySource(PROVIDER_KEY),
            requests.Session(),
            max_retries=1,
            max_response_bytes=1024,
            sleep=lambda seconds: (sleeps.append(seconds), time.sleep(seconds)),
            jitter=lambda: 0.5,
            backoff_base_s=0.2,
        )

    @pytest.mark.parametrize("retry_after", ["Sun, 06 Nov 1994 08:49:37 GMT", "0", "\u00b2", "\u0661\u0662"])
    def test_a_retry_after_in_the_past_zero_or_not_ascii_digits_still_backs_off(self, upstream, retry_after):
        upstream.then(Behaviour(429, {}, headers={"Retry-After": retry_after}))
        sleeps: list[float] = []
        body = self.client(upstream, sleeps).call("POST", "/chat/completions", {}, Deadline(5))
        assert body["choices"] and sleeps == [pytest.approx(0.15)]  # the backoff, not a hot retry

    def test_slow_headers_end_at_the_deadline_and_may_have_been_billed(self, upstream):
        upstream.then(Behaviour(header_drip_s=0.1))
        stats = CallStats()
        started = time.monotonic()
        with pytest.raises(UpstreamTimeout):
            self.client(upstream, []).call("POST", "/chat/completions", {}, Deadline(0.5), stats)
        assert time.monotonic() - started < 4  # the 0.5 s deadline: the drip alone takes about 7 s
        assert stats.maybe_billed and stats.retries == 0

    def test_a_content_length_with_non_ascii_digits_is_ignored_and_the_cap_still_holds(self, upstream):
        upstream.then(Behaviour(body={"pad": "x" * 4096}, headers={"Content-Length": "\u00b2"}))
        stats = CallStats()
        with pytest.raises(UpstreamError, match="larger than 1024 bytes"):
            self.client(upstream, []).call("POST", "/chat/completions", {}, Deadline(5), stats)
        assert stats.maybe_billed

    def test_a_200_that_is_not_json_may_have_been_billed(self, upstream):
        upstream.then(Behaviour(body=b"<html>502 Bad Gateway</html>"))
        stats = CallStats()
        with pytest.raises(UpstreamError, match="not valid JSON"):
            self.client(upstream, []).call("POST", "/chat/completions", {}, Deadline(5), stats)
        assert stats.maybe_billed and stats.retries == 0

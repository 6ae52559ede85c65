"""The upstream client against a real loopback HTTP server: retries, backoff, deadline, fallback."""

import time

import pytest
import requests

from lib.keys.sources import StaticKeySource
from lib.platform.deadline import Deadline
from lib.platform.errors import NotConfigured, UpstreamError, UpstreamRejected, UpstreamTimeout
from lib.providers.call_stats import CallStats
from lib.providers.upstream import UpstreamClient
from tests.support.fake_upstream import Behaviour, FakeUpstream

PAYLOAD = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
PROVIDER_KEY = "sk-provider-secret-abcdef0123456789"


class RotatingKeys:
    """A key source whose `refresh` returns the next key, like a secret after rotation."""

    def __init__(self, *keys):
        self.keys = list(keys)
        self.refreshes = 0

    def get_key(self, *, refresh=False):
        if refresh and len(self.keys) > 1:
            self.refreshes += 1
            self.keys.pop(0)
        return self.keys[0]


def make_client(*urls, key_source=None, sleeps=None, **options):
    recorded = sleeps if sleeps is not None else []
    return UpstreamClient(
        urls,
        key_source or StaticKeySource(PROVIDER_KEY),
        requests.Session(),
        sleep=lambda seconds: (recorded.append(seconds), time.sleep(seconds)),
        jitter=lambda: 0.5,
        backoff_base_s=0.01,
        **options,
    )


@pytest.fixture
def second_upstream():
    server = FakeUpstream().start()
    yield server
    server.stop()


def test_a_normal_answer_sends_the_key_and_payload(upstream):
    body = make_client(upstream.base_url).call("POST", "/chat/completions", PAYLOAD, Deadline(5))
    assert body["choices"][0]["message"]["content"] == "hello from upstream"
    sent = upstream.received[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["Authorization"] == f"Bearer {PROVIDER_KEY}"
    assert sent.body == PAYLOAD


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_transient_statuses_are_retried(upstream, status):
    upstream.then(Behaviour(status, {"error": {}}), Behaviour(status, {"error": {}}))
    stats = CallStats()
    body = make_client(upstream.base_url).call("POST", "/chat/completions", PAYLOAD, Deadline(5), stats)
    assert body["usage"]["total_tokens"] == 15
    assert (stats.attempts, stats.retries) == (3, 2)


def test_backoff_grows_exponentially(upstream):
    upstream.then(*[Behaviour(503, {}) for _ in range(3)])
    sleeps = []
    make_client(upstream.base_url, sleeps=sleeps).call("POST", "/chat/completions", PAYLOAD, Deadline(5))
    # base 0.01 s, equal jitter fixed at 0.5: 0.75 * 0.01 * 2**n
    assert sleeps == pytest.approx([0.0075, 0.015, 0.03])


def test_retry_after_is_honoured(upstream):
    upstream.then(Behaviour(429, {}, headers={"Retry-After": "1"}))
    sleeps = []
    make_client(upstream.base_url, sleeps=sleeps).call("POST", "/chat/completions", PAYLOAD, Deadline(5))
    assert sleeps == [1.0]


def test_a_retry_after_past_the_deadline_is_not_slept(upstream):
    upstream.then(Behaviour(429, {}, headers={"Retry-After": "30"}))
    sleeps = []
    started = time.monotonic()
    with pytest.raises(UpstreamError) as error:
        make_client(upstream.base_url, sleeps=sleeps).call("POST", "/chat/completions", PAYLOAD, Deadline(10))
    assert sleeps == []
    assert (
        time.monotonic() - started < 5
    )  # it neither slept nor waited the deadline out (room for a loaded machine)
    assert "HTTP 429" in error.value.message


def test_retries_stop_at_the_configured_count(upstream):
    upstream.then(*[Behaviour(500, {}) for _ in range(10)])
    stats = CallStats()
    with pytest.raises(UpstreamError) as error:
        make_client(upstream.base_url, max_retries=3).call(
            "POST", "/chat/completions", PAYLOAD, Deadline(5), stats
        )
    assert stats.attempts == 4 and stats.retries == 3
    assert len(upstream.received) == 4
    assert "4 attempt(s)" in error.value.message and "HTTP 500" in error.value.message


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_client_errors_are_not_retried(upstream, status):
    upstream.then(Behaviour(status, {"error": {"message": "raw upstream detail"}}))
    with pytest.raises(UpstreamError) as error:
        make_client(upstream.base_url).call("POST", "/chat/completions", PAYLOAD, Deadline(5))
    assert len(upstream.received) == 1
    assert "raw upstream detail" not in error.value.message


@pytest.mark.parametrize(
    ("param", "named"),
    [("top_logprobs", "top_logprobs"), ("messages[0].content", "messages[0].content"), ("a b; drop", None)],
)
def test_a_refusal_says_the_field_the_provider_names_and_never_its_text(upstream, param, named):
    # Given a provider refusing a field, with a message quoting the request
    body = {
        "error": {"message": "top_logprobs 21 > 20 for 'my secret prompt'", "type": "invalid_request_error"}
    }
    upstream.then(Behaviour(400, {"error": {**body["error"], "param": param}}))

    with pytest.raises(UpstreamRejected) as error:
        make_client(upstream.base_url).call("POST", "/chat/completions", PAYLOAD, Deadline(5))

    # Then the 400's message names the provider's field (only a field path) and never repeats its text;
    # `param` stays unset, as the provider's request is not the caller's (a system prompt added, ...)
    assert error.value.param is None and "secret" not in error.value.message
    assert (f"naming its field {named}" in error.value.message) == (named is not None)


@pytest.mark.parametrize("status", [400, 413, 422])
def test_a_refused_request_is_the_callers_400_and_no_other_endpoint_is_asked(upstream, status):
    upstream.then(
        Behaviour(
            status, {"error": {"message": "This model's maximum context is 8192", "code": "model_not_found"}}
        )
    )
    fallback = FakeUpstream().start()
    try:
        client = make_client(upstream.base_url, fallback.base_url)
        with pytest.raises(UpstreamRejected) as error:
            client.call("POST", "/chat/completions", PAYLOAD, Deadline(5))
        assert error.value.status == 400 and error.value.code == "upstream_rejected"
        assert (
            f"HTTP {status} (model_not_found)" in error.value.message
            and "gpt-typo" not in error.value.message
        )
        assert fallback.received == []  # a mirror of the same API would refuse it too
    finally:
        fallback.stop()


@pytest.mark.parametrize(
    ("caller_names_model", "error", "callers"),
    [
        (True, {"code": "model_not_found", "message": "The model `gpt-typo` does not exist"}, True),
        (False, {"code": "model_not_found"}, False),  # the route's own model id: its configuration
        (True, {"type": "invalid_request_error", "message": "Invalid URL"}, False),  # a wrong endpoint path
    ],
)
def test_a_404_is_the_callers_only_for_an_unknown_model_the_caller_named(
    upstream, caller_names_model, error, callers
):
    upstream.then(Behaviour(404, {"error": error}))
    client = make_client(upstream.base_url, caller_names_model=caller_names_model)
    with pytest.raises(UpstreamError) as raised:
        client.call("POST", "/chat/completions", PAYLOAD, Deadline(5))
    assert isinstance(raised.value, UpstreamRejected) is callers
    assert raised.value.status == (400 if callers else 502) and "HTTP 404" in raised.value.message


def test_a_fallback_endpoints_refusal_does_not_hide_the_first_endpoints_failure(upstream):
    upstream.then(*[Behaviour(500, {}) for _ in range(2)])
    fallback = FakeUpstream().start()
    try:
        fallback.then(Behaviour(400, {"error": {"code": "invalid_value"}}))
        with pytest.raises(UpstreamError) as raised:
            make_client(upstream.base_url, fallback.base_url, max_retries=1).call(
                "POST", "/chat/completions", PAYLOAD, Deadline(5)
            )
        assert not isinstance(raised.value, UpstreamRejected) and raised.value.status == 502
        assert "HTTP 500" in raised.value.message and "HTTP 400 (invalid_value)" in raised.value.message
    finally:
        fallback.stop()


def test_a_forbidden_key_is_the_deployments_502_not_the_callers(upstream):
    upstream.then(Behaviour(403, {"error": {"type": "permission_error"}}))
    with pytest.raises(UpstreamError) as error:
        make_client(upstream.base_url).call("POST", "/chat/completions", PAYLOAD, Deadline(5))
    assert not isinstance(error.value, UpstreamRejected) and error.value.status == 502


def test_a_slow_upstream_ends_at_the_deadline(upstream):
    upstream.then(*[Behaviour(delay_s=20) for _ in range(4)])
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        make_client(upstream.base_url).call("POST", "/chat/completions", PAYLOAD, Deadline(0.6))
    assert (
        time.monotonic() - started < 4
    )  # the 0.6 s deadline, not the 20 s answer (room for a loaded machine)


def test_a_dripping_body_cannot_outrun_the_deadline(upstream):
    upstream.then(Behaviour(drip_s=0.05))  # ~300 bytes at 20 bytes/s would take 15 s
    started = time.monotonic()
    stats = CallStats()
    with pytest.raises(UpstreamTimeout):
        make_client(upstream.base_url).call("POST", "/chat/completions", PAYLOAD, Deadline(0.8), stats)
    assert time.monotonic() - started < 4  # the 0.8 s deadline, not the 15 s body (room for a loaded machine)
    assert stats.maybe_billed


def test_a_stall_late_in_the_body_is_cut_at_the_deadline(upstream):
    # Bytes flow for 1.2 s or more, then nothing for 10 s. A read that started at 1.2 s may only wait the
    # 0.8 s left (ending at 2 s), not the whole 2 s the attempt began with (ending at 3.2 s or later: a
    # loaded machine drips more slowly, which only moves that later).
    upstream.then(Behaviour(drip_s=0.02, stall_after=60, stall_s=10))
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        make_client(upstream.base_url).call("POST", "/chat/completions", PAYLOAD, Deadline(2.0))
    assert time.monotonic() - started < 2.9


def test_a_reset_connection_is_retried(upstream):
    upstream.then(Behaviour(reset=True))
    stats = CallStats()
    body = make_client(upstream.base_url).call("POST", "/chat/completions", PAYLOAD, Deadline(5), stats)
    assert body["id"] == "up-123" and stats.retries == 1


def test_a_body_cut_short_is_retried(upstream):
    upstream.then(Behaviour(cut_after=20))
    stats = CallStats()
    make_client(upstream.base_url).call("POST", "/chat/completions", PAYLOAD, Deadline(5), stats)
    assert stats.retries == 1


def test_invalid_json_is_an_upstream_error(upstream):
    upstream.then(Behaviour(body=b"<html>proxy error</html>"))
    with pytest.raises(UpstreamError) as error:
        make_client(upstream.base_url).call("POST", "/chat/completions", PAYLOAD, Deadline(5))
    assert "not valid JSON" in error.value.message
    assert "proxy error" not in error.value.message


def test_a_huge_body_is_refused_without_reading_it_all(upstream):
    upstream.then(Behaviour(body=b'{"x": "' + b"a" * 300_000 + b'"}'))
    with pytest.raises(UpstreamError) as error:
        make_client(upstream.base_url, max_response_bytes=100_000).call(
            "POST", "/chat/completions", PAYLOAD, Deadline(5)
        )
    assert "larger than 100000 bytes" in error.value.message


def test_the_fallback_serves_when_the_primary_fails(upstream, second_upstream):
    upstream.then(*[Behaviour(503, {}) for _ in range(4)])
    stats = CallStats()
    body = make_client(upstream.base_url, second_upstream.base_url).call(
        "POST", "/chat/completions", PAYLOAD, Deadline(5), stats
    )
    assert body["id"] == "up-123"
    assert stats.fallback_used and len(second_upstream.received) == 1


def test_an_unreachable_primary_falls_back(second_upstream):
    dead = "http://127.0.0.1:9/v1"  # discard port: nothing listens
    stats = CallStats()
    make_client(dead, second_upstream.base_url, max_retries=0).call(
        "POST", "/chat/completions", PAYLOAD, Deadline(5), stats
    )
    assert stats.fallback_used


def test_a_401_rereads_the_key_once_and_succeeds(upstream):
    upstream.valid_keys = {"sk-new-key-after-rotation-0000"}
    keys = RotatingKeys("sk-old-key-before-rotation-000", "sk-new-key-after-rotation-0000")
    stats = CallStats()
    make_client(upstream.base_url, key_source=keys).call(
        "POST", "/chat/completions", PAYLOAD, Deadline(5), stats
    )
    assert keys.refreshes == 1 and stats.key_refreshed and stats.retries == 0


def test_a_second_401_is_a_clear_502_not_a_loop(upstream):
    upstream.valid_keys = {"sk-nobody-has-this-one-000000"}
    keys = RotatingKeys("sk-old-key-before-rotation-000", "sk-new-key-after-rotation-0000", "sk-third")
    with pytest.raises(UpstreamError) as error:
        make_client(upstream.base_url, key_source=keys).call(
            "POST", "/chat/completions", PAYLOAD, Deadline(5)
        )
    assert keys.refreshes == 1
    assert len(upstream.received) == 2
    assert "rejected the API key" in error.value.message
    assert "sk-" not in error.value.message


def test_no_endpoint_is_a_503_naming_the_variable():
    with pytest.raises(NotConfigured) as error:
        make_client().call("POST", "/chat/completions", PAYLOAD, Deadline(5))
    assert "AI_MODEL_ENDPOINT" in error.value.message

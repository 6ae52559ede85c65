"""EMF metrics and access lines for every outcome, read back from what the handler printed."""

import logging

import pytest
from aws_lambda_powertools.metrics.provider import cold_start

from lib import services
from tests.conftest import SECRET_PATTERN, call, load_event, recording_logs
from tests.support.fake_upstream import Behaviour

BASIC_METRICS = {
    "Requests": "Count",
    "Errors": "Count",
    "UpstreamCalls": "Count",
    "UpstreamFailures": "Count",
    "Rejected": "Count",
    "Throttled": "Count",
    "Latency": "Milliseconds",
    "Tokens": "Count",
    "CostUSD": "None",
}


def request_for(outcome, env, upstream):
    """Produce one request with the given outcome; returns its status."""
    if outcome == "ok":
        return call("POST", "/api/generate", {"prompt": "p"}).status
    if outcome == "input_rejected":
        return call("POST", "/api/generate", {"prompt": ""}).status
    if outcome == "auth_failed":
        env.setenv("AUTH_MODE", "keys")
        services.reset()
        return call("POST", "/api/generate", {"prompt": "p"}).status
    if outcome == "rate_limited":
        env.setenv("RATE_LIMIT_BURST", "1")
        services.reset()
        call("POST", "/api/generate", {"prompt": "p"})
        return call("POST", "/api/generate", {"prompt": "p"}).status
    if outcome == "budget_exceeded":
        env.setenv("DAILY_TOKEN_BUDGET", "10")
        services.reset()
        call("POST", "/api/generate", {"prompt": "p"})
        return call("POST", "/api/generate", {"prompt": "p"}).status
    if outcome == "upstream_error":
        upstream.then(*[Behaviour(500, {}) for _ in range(4)])
        return call("POST", "/api/generate", {"prompt": "p"}).status
    if outcome == "upstream_timeout":
        # A deadline with room for the admission's store calls on a loaded machine: the call must reach
        # the upstream, which answers long after it
        env.setenv("AI_MODEL_TIMEOUT_S", "2")
        services.reset()
        upstream.then(*[Behaviour(delay_s=30) for _ in range(4)])
        return call("POST", "/api/generate", {"prompt": "p"}).status
    raise AssertionError(outcome)


def gateway_blobs(output):
    """EMF blobs with the gateway's own metrics (not powertools' ColdStart blob)."""
    return [blob for blob in output.metric_blobs() if "Requests" in blob]


EXPECTED = {
    # outcome: (status, Errors, UpstreamCalls, UpstreamFailures, Rejected, Throttled, Tokens)
    "ok": (200, 0, 1, 0, 0, 0, 15),
    "input_rejected": (400, 0, 0, 0, 1, 0, 0),
    "auth_failed": (401, 0, 0, 0, 1, 0, 0),
    "rate_limited": (429, 0, 0, 0, 0, 1, 0),
    "budget_exceeded": (429, 0, 0, 0, 0, 1, 0),
    "upstream_error": (502, 1, 1, 1, 0, 0, 0),
    "upstream_timeout": (504, 1, 1, 1, 0, 0, 0),
}


@pytest.mark.parametrize("outcome", list(EXPECTED))
def test_each_outcome_is_counted_and_logged_once(outcome, aws, gateway_env, upstream, output):
    status = request_for(outcome, gateway_env, upstream)
    expected_status, errors, calls, failures, rejected, throttled, tokens = EXPECTED[outcome]
    assert status == expected_status
    blob = gateway_blobs(output)[-1]
    directive = blob["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "modelgate"
    assert directive["Dimensions"] == [["service"]] and blob["service"] == "modelgate"
    assert {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]} == BASIC_METRICS
    values = {name: blob[name] for name in BASIC_METRICS}
    assert values["Requests"] == [1.0]
    assert (
        values["Errors"],
        values["UpstreamCalls"],
        values["UpstreamFailures"],
        values["Rejected"],
        values["Throttled"],
        values["Tokens"],
    ) == ([errors], [calls], [failures], [rejected], [throttled], [tokens])
    assert values["Latency"][0] > 0
    access = output.access_lines()[-1]
    assert access["outcome"] == outcome and access["status"] == expected_status
    # one access line and one metrics blob per request
    assert len(output.access_lines()) == len(gateway_blobs(output))


def test_the_cold_start_metric(gateway_env, output):
    cold_start.reset_cold_start_flag()
    call("GET", "/health")
    call("GET", "/health")
    cold = [blob for blob in output.metric_blobs() if "ColdStart" in blob]
    assert len(cold) == 1 and cold[0]["ColdStart"] == [1.0]


def test_cost_uses_the_configured_price(gateway_env, output):
    gateway_env.setenv("MODEL_PRICES", '{"test-model": 0.002}')
    services.reset()
    call("POST", "/api/generate", {"prompt": "p"})
    assert gateway_blobs(output)[-1]["CostUSD"] == [pytest.approx(15 / 1000 * 0.002)]
    assert output.access_lines()[-1]["cost_usd"] == pytest.approx(0.00003)


def test_detailed_metrics_add_outcomes_upstream_figures_and_a_bounded_model_dimension(
    gateway_env, upstream, output
):
    gateway_env.setenv("DETAILED_METRICS", "true")
    services.reset()
    upstream.then(Behaviour(503, {}))
    call("POST", "/api/generate", {"prompt": "p"})
    call("POST", "/api/generate", {"prompt": "p", "model": "caller-invented-model-name"})
    blobs = gateway_blobs(output)
    first = blobs[0]
    assert first["OutcomeOk"] == [1.0] and first["Retries"] == [1.0] and first["Fallbacks"] == [0.0]
    assert first["PromptTokens"] == [11.0] and first["CompletionTokens"] == [4.0]
    assert first["UpstreamLatency"][0] > 0
    per_model = [blob for blob in output.metric_blobs() if "ModelTokens" in blob]
    assert [blob["model"] for blob in per_model] == ["test-model", "other"]
    assert [set(d) for d in per_model[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"]] == [
        {"service", "model"}
    ]


def test_the_access_line(aws, gateway_env, output):
    event = load_event("generate.json")
    event["requestContext"]["requestId"] = "req-abc-123"
    from tests.conftest import invoke_event

    assert invoke_event(event).status == 200
    access = output.access_lines()[-1]
    assert access["correlation_id"] == "req-abc-123"
    assert access["route"] == "POST /api/generate" and access["model"] == "test-model"
    assert access["total_tokens"] == 15 and access["retries"] == 0 and access["upstream_attempts"] == 1
    assert access["charged_tokens"] == 15  # what the budget was charged: the usage, within the reservation
    assert access["latency_ms"] >= access["upstream_latency_ms"] > 0
    assert access["caller"].startswith("ip_")
    assert "prompt" not in access and "completion" not in access


def test_a_streamed_answer_logs_what_the_budget_was_charged(aws, gateway_env, output):
    from tests.conftest import call

    body = {"messages": [{"role": "user", "content": "hi"}], "stream": True}
    assert call("POST", "/v1/chat/completions", body).status == 200
    access = output.access_lines()[-1]
    assert access["total_tokens"] == 15 and access["charged_tokens"] == 15


def test_prompts_are_not_logged_unless_asked(gateway_env, output):
    call("POST", "/api/generate", {"prompt": "my private question"})
    assert "my private question" not in output.text()
    gateway_env.setenv("LOG_PROMPTS", "true")
    services.reset()
    call("POST", "/api/generate", {"prompt": "my private question"})
    access = output.access_lines()[-1]
    assert access["prompt"] == "my private question" and access["completion"] == "hello from upstream"


def test_a_metrics_failure_never_fails_a_request(gateway_env, output, monkeypatch):
    import handler

    def broken(*args, **kwargs):
        raise RuntimeError("metrics backend exploded")

    monkeypatch.setattr(handler.metrics, "add_metric", broken)
    reply = call("POST", "/api/generate", {"prompt": "p"})
    assert reply.status == 200
    assert any(line.get("message") == "metrics could not be recorded" for line in output.lines())
    assert len(output.access_lines()) == 1


def test_debug_level_and_error_paths_log_no_secret(aws, gateway_env, upstream):
    """At DEBUG, through auth failures, an upstream 401 and a crash, no key or Authorization shows."""
    import handler

    upstream.valid_keys = {"sk-only-the-upstream-knows-this-0000"}
    handler.logger.setLevel(logging.DEBUG)
    try:
        with recording_logs() as logged:
            call("POST", "/api/generate", {"prompt": "p"})  # upstream 401 twice -> 502
            gateway_env.setenv("AUTH_MODE", "keys")
            services.reset()
            for header in (
                "Bearer mg-this-client-key-is-unknown-000000",
                "Basic mg-another-secret-value-000000",
            ):
                call("POST", "/api/generate", {"prompt": "p"}, headers={"Authorization": header})
    finally:
        handler.logger.setLevel(logging.INFO)
    text = logged.getvalue()
    assert text.count('"message":"request"') == 3
    assert not SECRET_PATTERN.findall(text)


@pytest.mark.logs_a_secret_on_purpose
def test_the_secret_scan_would_catch_a_leak():
    from lib.services import logger as child_logger

    with recording_logs() as logged:
        child_logger.info("oops", extra={"leak": "Bearer mg-a-client-key-that-leaked-000000"})
    assert SECRET_PATTERN.findall(logged.getvalue())

"""Routes through the handler: a routes file, two loopback providers, choice, fallbacks, breaker."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from lib import services
from tests.conftest import call
from tests.support.fake_upstream import Behaviour, FakeUpstream

GENERAL_KEY = "sk-general-route-key-0123456789"
LEGAL_KEY = "sk-legal-route-key-0123456789ab"

ROUTES = """
default = "general"

[[route]]
name = "general"
provider = "openai"
endpoint = "{general}"
model = "deepseek-chat"
key = "env:GENERAL_KEY"
domains = ["general"]
fallbacks = ["legal"]

[[route]]
name = "legal"
provider = "openai"
endpoint = "{legal}"
model = "legal-model-v2"
key = "env:LEGAL_KEY"
domains = ["legal"]
keywords = ["法律", "Contract"]
"""


@pytest.fixture
def legal() -> Iterator[FakeUpstream]:
    server = FakeUpstream().start()
    yield server
    server.stop()


def write_routes(tmp_path: Path, text: str) -> str:
    path = tmp_path / "routes.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def routed(gateway_env, upstream, legal, tmp_path):
    """ROUTES_FILE with `general` (the default upstream fixture) falling back to `legal`."""
    gateway_env.setenv(
        "ROUTES_FILE", write_routes(tmp_path, ROUTES.format(general=upstream.base_url, legal=legal.base_url))
    )
    gateway_env.setenv("GENERAL_KEY", GENERAL_KEY)
    gateway_env.setenv("LEGAL_KEY", LEGAL_KEY)
    gateway_env.setenv("AI_MODEL_MAX_RETRIES", "1")
    services.reset()
    return gateway_env


pytestmark = pytest.mark.usefixtures("routed")


class TestChoosingARoute:
    def test_model_names_a_route_and_its_key_and_upstream_model_are_used(self, upstream, legal):
        reply = call(
            "POST",
            "/v1/chat/completions",
            {"model": "legal", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert reply.status == 200
        assert reply.json["model"] == "legal"  # the public name, not the upstream's id
        assert upstream.received == []
        sent = legal.received[0]
        assert sent.body["model"] == "legal-model-v2"
        assert sent.headers["Authorization"] == f"Bearer {LEGAL_KEY}"

    def test_domain_chooses_a_route(self, upstream, legal):
        reply = call("POST", "/api/generate", {"prompt": "a question", "domain": "legal"})
        assert reply.status == 200 and reply.json["model"] == "legal"
        assert len(legal.received) == 1 and upstream.received == []

    def test_a_keyword_in_the_prompt_chooses_a_route_case_insensitively(self, upstream, legal):
        assert call("POST", "/api/generate", {"prompt": "这个合同的法律问题"}).json["model"] == "legal"
        assert call("POST", "/api/generate", {"prompt": "review this CONTRACT"}).json["model"] == "legal"
        assert call("POST", "/api/generate", {"prompt": "hello there"}).json["model"] == "general"
        assert len(legal.received) == 2 and len(upstream.received) == 1

    def test_model_wins_over_domain_and_keywords(self, upstream, legal):
        reply = call("POST", "/api/generate", {"prompt": "法律", "domain": "legal", "model": "general"})
        assert reply.json["model"] == "general" and legal.received == []

    def test_an_unknown_model_is_400_listing_the_routes(self, upstream, legal):
        reply = call(
            "POST",
            "/v1/chat/completions",
            {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert reply.status == 400
        assert reply.error["code"] == "model_not_found" and reply.error["param"] == "model"
        assert "general, legal" in reply.error["message"]
        assert upstream.received == [] and legal.received == []

    def test_an_unknown_domain_is_400_listing_the_domains(self):
        reply = call("POST", "/api/generate", {"prompt": "p", "domain": "medical"})
        assert reply.status == 400 and reply.error["param"] == "domain"
        assert "general, legal" in reply.error["message"]

    def test_models_lists_the_route_names(self, upstream):
        reply = call("GET", "/v1/models")
        assert [entry["id"] for entry in reply.json["data"]] == ["general", "legal"]
        assert all(entry["object"] == "model" for entry in reply.json["data"])
        assert upstream.received == []  # answered from the routes, not from a provider


class TestFallbacks:
    def test_a_failing_route_hands_over_to_its_fallback(self, upstream, legal, output):
        upstream.then(Behaviour(503), Behaviour(503))
        reply = call("POST", "/api/generate", {"prompt": "hello"})
        assert reply.status == 200 and reply.json["model"] == "legal"
        assert len(upstream.received) == 2  # the first try and its one retry
        assert legal.received[0].headers["Authorization"] == f"Bearer {LEGAL_KEY}"
        line = output.access_lines()[-1]
        assert line["served_by"] == "legal" and line["failed_routes"] == ["general:upstream_error"]
        assert line["fallback"] is True

    def test_the_fallback_gets_only_the_time_that_is_left(self, routed, upstream, legal):
        routed.setenv("AI_MODEL_TIMEOUT_S", "1.0")
        services.reset()
        upstream.then(Behaviour(delay_s=3))
        legal.then(Behaviour(delay_s=3))
        reply = call("POST", "/api/generate", {"prompt": "hello"})
        assert reply.status == 504
        assert len(legal.received) <= 1  # reached only if time was left, and never waited on past it

    def test_a_route_whose_key_is_missing_fails_over(self, routed, upstream, legal, output):
        routed.delenv("GENERAL_KEY")
        services.reset()
        reply = call("POST", "/api/generate", {"prompt": "hello"})
        assert reply.status == 200 and reply.json["model"] == "legal"
        assert upstream.received == []
        assert output.access_lines()[-1]["failed_routes"] == ["general:not_configured"]

    def test_when_every_route_fails_the_last_error_is_the_answer(self, upstream, legal):
        upstream.then(Behaviour(500), Behaviour(500))
        legal.then(Behaviour(502), Behaviour(502))
        reply = call("POST", "/api/generate", {"prompt": "hello"})
        assert reply.status == 502 and reply.error["code"] == "upstream_error"
        assert "sk-" not in reply.text

    def test_a_missing_key_alone_is_503_naming_the_variable(self, routed, legal):
        routed.delenv("LEGAL_KEY")
        services.reset()
        reply = call("POST", "/api/generate", {"prompt": "p", "model": "legal"})
        assert reply.status == 503 and "LEGAL_KEY" in reply.error["message"]


class TestCircuitBreaker:
    def test_a_route_past_its_failure_rate_is_skipped_until_the_cool_down(
        self, routed, upstream, legal, output
    ):
        routed.setenv("BREAKER_MIN_CALLS", "2")
        routed.setenv("BREAKER_FAILURE_RATE", "0.5")
        routed.setenv("AI_MODEL_MAX_RETRIES", "0")
        services.reset()
        upstream.then(Behaviour(500), Behaviour(500))
        for _ in range(2):
            assert call("POST", "/api/generate", {"prompt": "p"}).json["model"] == "legal"
        assert len(upstream.received) == 2
        assert call("POST", "/api/generate", {"prompt": "p"}).json["model"] == "legal"
        assert len(upstream.received) == 2  # open: skipped without a call
        lines = output.access_lines()
        assert lines[1]["breaker_changes"] == ["general:open"]
        assert lines[2]["failed_routes"] == ["general:breaker_open"]
        assert any(
            line.get("message") == "circuit breaker" and line["to_state"] == "open" for line in output.lines()
        )

    def test_requests_the_model_api_refuses_are_not_the_routes_failures(
        self, routed, upstream, legal, output
    ):
        routed.setenv("BREAKER_MIN_CALLS", "2")
        routed.setenv("BREAKER_FAILURE_RATE", "0.5")
        services.reset()
        refusal = {"error": {"message": "maximum context length is 8192", "code": "context_length_exceeded"}}
        upstream.then(*[Behaviour(400, refusal) for _ in range(4)])
        legal.then(*[Behaviour(400, refusal) for _ in range(4)])
        for _ in range(4):
            reply = call("POST", "/api/generate", {"prompt": "p"})
            assert reply.status == 400 and reply.error["code"] == "upstream_rejected"
            assert "HTTP 400 (context_length_exceeded)" in reply.error["message"]
            # the chosen route's failure is not hidden behind its fallback's
            assert (
                "(routes tried in order: general:upstream_rejected, legal:upstream_rejected)"
                in (reply.error["message"])
            )
        assert call("POST", "/api/generate", {"prompt": "p"}).json["model"] == "general"  # still closed
        assert len(upstream.received) == 5
        lines = output.access_lines()
        assert all("breaker_changes" not in line for line in lines)
        assert lines[0]["outcome"] == "input_rejected" and lines[0]["failed_routes"] == [
            "general:upstream_rejected",
            "legal:upstream_rejected",
        ]

    def test_a_later_routes_refusal_does_not_hide_an_earlier_routes_failure(
        self, routed, upstream, legal, output
    ):
        routed.setenv("AI_MODEL_MAX_RETRIES", "0")
        services.reset()
        upstream.then(Behaviour(503, {}))
        legal.then(Behaviour(400, {"error": {"code": "context_length_exceeded"}}))
        reply = call("POST", "/api/generate", {"prompt": "p"})
        assert reply.status == 502 and reply.error["code"] == "upstream_error"
        assert output.access_lines()[-1]["outcome"] == "upstream_error"

    def test_a_missing_key_does_not_hide_a_fallbacks_refusal_of_the_request(self, routed, upstream, legal):
        # Given the chosen route without its key, and a fallback that refuses the request itself
        routed.delenv("GENERAL_KEY")
        services.reset()
        legal.then(Behaviour(400, {"error": {"type": "invalid_request_error", "param": "top_logprobs"}}))
        reply = call("POST", "/api/generate", {"prompt": "p"})
        # Then the caller hears the refusal (its own input), not the missing key of a route that never tried
        assert reply.status == 400 and reply.error["code"] == "upstream_rejected"
        assert "top_logprobs" in reply.error["message"] and "general:not_configured" in reply.error["message"]


class TestRoutesFile:
    def test_a_broken_file_is_503_naming_the_route_and_field(self, routed, tmp_path, upstream):
        routed.setenv(
            "ROUTES_FILE", write_routes(tmp_path, ROUTES.format(general="ftp://x", legal=upstream.base_url))
        )
        services.reset()
        reply = call("POST", "/api/generate", {"prompt": "p"})
        assert reply.status == 503 and reply.error["code"] == "not_configured"
        assert "ROUTES_FILE" in reply.error["message"]
        assert "route 'general': field 'endpoint'" in reply.error["message"]

    def test_a_missing_file_is_503_naming_it(self, routed, tmp_path):
        routed.setenv("ROUTES_FILE", str(tmp_path / "nope.toml"))
        services.reset()
        reply = call("GET", "/health")
        assert reply.status == 503 and "nope.toml" in reply.error["message"]

    def test_single_model_variables_are_ignored_with_a_warning(self, output, upstream):
        call("GET", "/health")
        warning = next(
            line for line in output.lines() if line.get("message", "").startswith("ROUTES_FILE is set")
        )
        assert "AI_MODEL_ENDPOINT" in warning["ignored_variables"]
        assert json.dumps(warning).count("sk-") == 0


class TestSingleModelMode:
    def test_without_a_model_anywhere_it_is_503(self, routed):
        routed.delenv("ROUTES_FILE")
        routed.delenv("AI_MODEL_NAME")
        services.reset()
        reply = call("POST", "/api/generate", {"prompt": "p"})
        assert reply.status == 503 and "AI_MODEL_NAME" in reply.error["message"]

    def test_the_callers_model_is_passed_on(self, routed, upstream):
        routed.delenv("ROUTES_FILE")
        services.reset()
        reply = call(
            "POST",
            "/v1/chat/completions",
            {"model": "any-upstream-model", "messages": [{"role": "user", "content": "x"}]},
        )
        assert reply.status == 200 and upstream.received[0].body["model"] == "any-upstream-model"


def test_detailed_metrics_name_the_route_and_count_breaker_changes(routed, upstream, legal, output):
    routed.setenv("DETAILED_METRICS", "true")
    routed.setenv("BREAKER_MIN_CALLS", "1")
    routed.setenv("AI_MODEL_MAX_RETRIES", "0")
    services.reset()
    upstream.then(Behaviour(500))
    assert call("POST", "/api/generate", {"prompt": "p"}).json["model"] == "legal"
    per_model = [blob for blob in output.metric_blobs() if "ModelTokens" in blob]
    assert [blob["model"] for blob in per_model] == ["legal"]
    assert any(blob.get("BreakerChanges") == [1.0] for blob in output.metric_blobs())


def test_domain_in_an_openai_body_chooses_a_route_and_is_not_sent_upstream(upstream, legal):
    body = {"messages": [{"role": "user", "content": "hi"}], "domain": "legal"}
    reply = call("POST", "/v1/chat/completions", body)
    assert reply.status == 200 and reply.json["model"] == "legal"
    assert "domain" not in legal.received[0].body

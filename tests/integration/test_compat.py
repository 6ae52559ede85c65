"""What common tools expect of an OpenAI-compatible server: forgiving temperatures, the models routes
in OpenAI's full shape, HEAD, a front page, and CORS for browser clients."""

import pytest

from lib import services
from tests.conftest import call
from tests.support.fake_upstream import Behaviour

pytestmark = pytest.mark.usefixtures("gateway_env")

CHAT = {"messages": [{"role": "user", "content": "hi"}]}
ALLOWED = "https://app.example.com"


def configure(gateway_env, **variables):
    for name, value in variables.items():
        gateway_env.setenv(name, value)
    services.reset()


class TestTemperature:
    @pytest.mark.parametrize(
        ("sent", "applied", "header"),
        [(0, 0.1, "0->0.1"), (0.0, 0.1, "0->0.1"), (1, 0.9, "1->0.9"), (2, 0.9, "2->0.9")],
    )
    def test_tool_defaults_are_clamped_and_the_reply_says_so(self, upstream, sent, applied, header):
        # LangChain's ChatOpenAI(temperature=0), the SDK's 0.0, 1 and 2 all work unchanged.
        reply = call("POST", "/v1/chat/completions", {**CHAT, "temperature": sent})
        assert reply.status == 200
        assert upstream.received[0].body["temperature"] == applied
        assert reply.headers["x-temperature-clamped"] == header

    def test_a_streamed_reply_says_so_too(self, upstream):
        reply = call("POST", "/v1/chat/completions", {**CHAT, "temperature": 0, "stream": True})
        assert reply.status == 200 and reply.headers["x-temperature-clamped"] == "0->0.1"
        assert upstream.received[0].body["temperature"] == 0.1

    def test_a_temperature_in_range_is_passed_as_is_without_the_header(self, upstream):
        reply = call("POST", "/api/generate", {"prompt": "p", "temperature": 0.3})
        assert reply.status == 200 and upstream.received[0].body["temperature"] == 0.3
        assert "x-temperature-clamped" not in reply.headers

    def test_the_clamp_is_in_the_access_log(self, output):
        call("POST", "/v1/completions", {"prompt": "p", "temperature": 0})
        (line,) = output.access_lines()
        assert line["temperature_clamped"] == "0->0.1"

    def test_the_reject_policy_keeps_the_400(self, gateway_env, upstream):
        configure(gateway_env, TEMPERATURE_POLICY="reject")
        reply = call("POST", "/v1/chat/completions", {**CHAT, "temperature": 0})
        assert reply.status == 400 and reply.error["param"] == "temperature"
        assert "0.1 to 0.9" in reply.error["message"]
        assert upstream.received == []

    @pytest.mark.parametrize("temperature", [-0.5, 2.5, "0.5", True])
    def test_what_is_no_openai_temperature_is_refused_under_either_policy(self, upstream, temperature):
        reply = call("POST", "/v1/chat/completions", {**CHAT, "temperature": temperature})
        assert reply.status == 400 and reply.error["param"] == "temperature"
        assert upstream.received == []


class TestModels:
    def test_entries_get_openai_s_full_shape_whatever_the_upstream_sends(self, upstream):
        upstream.then(
            Behaviour(
                body={
                    "data": [
                        {"id": "bare"},
                        {"id": "full", "object": "model", "created": 1700000000, "owned_by": "acme"},
                        {"id": "odd", "created": "yesterday", "owned_by": 7},
                        {"name": "no id"},
                        "plain-name",
                    ]
                }
            )
        )
        reply = call("GET", "/v1/models")
        assert reply.status == 200
        assert reply.json == {
            "object": "list",
            "data": [
                {"id": "bare", "object": "model", "created": 0, "owned_by": "modelgate"},
                {"id": "full", "object": "model", "created": 1700000000, "owned_by": "acme"},
                {"id": "odd", "object": "model", "created": 0, "owned_by": "modelgate"},
                {"id": "plain-name", "object": "model", "created": 0, "owned_by": "modelgate"},
            ],
        }

    def test_one_model_by_id(self, upstream):
        reply = call("GET", "/v1/models/test-model")
        assert reply.status == 200
        assert reply.json == {"id": "test-model", "object": "model", "created": 0, "owned_by": "test"}

    def test_a_model_the_upstream_does_not_list_is_404(self):
        reply = call("GET", "/v1/models/gpt-nothing")
        assert reply.status == 404 and reply.error["code"] == "model_not_found"

    def test_deleting_a_model_is_405_naming_what_is_allowed(self, upstream):
        reply = call("DELETE", "/v1/models/test-model")
        assert reply.status == 405 and reply.headers["allow"] == "GET, HEAD"
        assert upstream.received == []


class TestHeadAndFrontPage:
    @pytest.mark.parametrize("path", ["/", "/health", "/v1/models", "/v1/models/test-model"])
    def test_head_works_wherever_get_does(self, path):
        assert call("HEAD", path, headers={}).status == call("GET", path, headers={}).status == 200

    def test_head_is_not_offered_where_get_is_not(self):
        reply = call("HEAD", "/v1/chat/completions", headers={})
        assert reply.status == 405 and reply.headers["allow"] == "POST"

    def test_the_front_page_says_what_this_is_and_where_the_docs_are(self, upstream):
        reply = call("GET", "/", headers={})
        assert reply.status == 200
        page = reply.json
        assert page["name"] == "modelgate" and page["openai_base_url"] == "/v1"
        assert "docs/api.md" in page["docs"]
        assert {"POST /v1/chat/completions", "GET /v1/models/{model_id}"} <= set(page["endpoints"])
        assert upstream.received == []


class TestCors:
    def test_off_by_default(self):
        reply = call("POST", "/v1/chat/completions", CHAT, headers={"origin": ALLOWED})
        assert reply.status == 200
        assert not [name for name in reply.headers if name.startswith("access-control-")]
        preflight = call("OPTIONS", "/v1/chat/completions", headers={"origin": ALLOWED})
        assert preflight.status == 405

    def test_an_allowed_origin_gets_the_preflight_and_the_headers(self, gateway_env):
        configure(gateway_env, CORS_ALLOW_ORIGINS=f"https://other.example.com, {ALLOWED}")
        preflight = call(
            "OPTIONS",
            "/v1/chat/completions",
            headers={"origin": ALLOWED, "access-control-request-method": "POST"},
        )
        assert preflight.status == 204
        assert preflight.headers["access-control-allow-origin"] == ALLOWED
        assert "POST" in preflight.headers["access-control-allow-methods"]
        allowed_headers = preflight.headers["access-control-allow-headers"].lower().split(",")
        assert {"authorization", "content-type", "x-api-key", "x-stainless-retry-count"} <= set(
            allowed_headers
        )
        reply = call("POST", "/v1/chat/completions", {**CHAT, "temperature": 0}, headers={"origin": ALLOWED})
        assert reply.status == 200 and reply.headers["access-control-allow-origin"] == ALLOWED
        exposed = reply.headers["access-control-expose-headers"].split(",")
        assert {"retry-after", "x-cache", "x-temperature-clamped"} <= set(exposed)

    def test_a_preflight_allows_the_anthropic_sdk_s_headers(self, gateway_env):
        # Given CORS on, when the anthropic SDK in a browser asks before POST /v1/messages
        configure(gateway_env, CORS_ALLOW_ORIGINS=ALLOWED)
        preflight = call(
            "OPTIONS",
            "/v1/messages",
            headers={"origin": ALLOWED, "access-control-request-method": "POST"},
        )
        # Then its own headers are among those allowed
        allowed = preflight.headers["access-control-allow-headers"].lower()
        for name in ("anthropic-version", "anthropic-beta", "anthropic-dangerous-direct-browser-access"):
            assert name in allowed

    def test_errors_carry_the_headers_too_so_a_browser_can_read_them(self, gateway_env):
        configure(gateway_env, CORS_ALLOW_ORIGINS=ALLOWED)
        reply = call("POST", "/v1/chat/completions", {"messages": []}, headers={"origin": ALLOWED})
        assert reply.status == 400 and reply.headers["access-control-allow-origin"] == ALLOWED

    def test_an_origin_not_allowed_gets_no_cors_headers_and_its_normal_answer(self, gateway_env, upstream):
        configure(gateway_env, CORS_ALLOW_ORIGINS=ALLOWED)
        evil = "https://evil.example.com"
        reply = call("POST", "/v1/chat/completions", CHAT, headers={"origin": evil})
        assert reply.status == 200 and reply.json["choices"][0]["message"]["content"] == "hello from upstream"
        preflight = call(
            "OPTIONS",
            "/v1/chat/completions",
            headers={"origin": evil, "access-control-request-method": "POST"},
        )
        for answer in (reply, preflight):
            assert not [name for name in answer.headers if name.startswith("access-control-")]

    def test_a_bad_origin_setting_is_a_503_naming_the_variable(self, gateway_env):
        configure(gateway_env, CORS_ALLOW_ORIGINS="app.example.com/path")
        reply = call("POST", "/v1/chat/completions", CHAT)
        assert reply.status == 503 and "CORS_ALLOW_ORIGINS" in reply.error["message"]

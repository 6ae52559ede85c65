"""The API through `handler.api_handler`, with API Gateway v2 events and the loopback upstream."""

import base64
import json

import pytest

from tests.conftest import call, invoke_event, load_event
from tests.support.fake_upstream import Behaviour

pytestmark = pytest.mark.usefixtures("gateway_env")


class TestGenerate:
    def test_the_original_contract(self, upstream):
        reply = call("POST", "/api/generate", {"prompt": "hello", "max_tokens": 20})
        assert reply.status == 200
        assert reply.json == {
            "id": "up-123",
            "model": "test-model",
            "text": "hello from upstream",
            "usage": {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15},
        }
        sent = upstream.received[0].body
        assert sent["max_tokens"] == 20 and sent["messages"][-1] == {"role": "user", "content": "hello"}

    def test_missing_prompt_is_400_naming_it(self, upstream):
        reply = call("POST", "/api/generate", {"max_tokens": 5})
        assert reply.status == 400
        assert reply.error == {
            "message": 'missing prompt: send {"prompt": "..."}',
            "type": "invalid_request_error",
            "code": "missing_prompt",
            "param": "prompt",
        }
        assert upstream.received == []

    def test_system_prompt_and_seed_reach_the_upstream(self, gateway_env, upstream):
        gateway_env.setenv("SYSTEM_PROMPT", "Answer in one line.")
        from lib import services

        services.reset()
        call("POST", "/api/generate", {"prompt": "p", "seed": 42, "temperature": 0.3})
        sent = upstream.received[0].body
        assert sent["messages"][0] == {"role": "system", "content": "Answer in one line."}
        assert sent["seed"] == 42 and sent["temperature"] == 0.3


class TestEvents:
    """Events shaped like `sam local generate-event apigateway http-api-proxy`."""

    def test_the_sam_shaped_fixture_with_a_base64_body(self):
        event = load_event("generate.json")
        assert event["isBase64Encoded"] and "Content-Type" in event["headers"]
        reply = invoke_event(event)
        assert reply.status == 200 and reply.json["text"] == "hello from upstream"

    def test_an_event_without_headers(self):
        event = load_event("chat.json")
        del event["headers"]
        assert invoke_event(event).status == 200

    def test_mixed_case_header_names(self, gateway_env):
        gateway_env.setenv("AUTH_MODE", "none")
        reply = call(
            "POST",
            "/api/generate",
            {"prompt": "p"},
            headers={"CONTENT-TYPE": "application/json", "X-Api-Key": "whatever"},
        )
        assert reply.status == 200

    def test_base64_body_helper(self):
        assert call("POST", "/api/generate", {"prompt": "p"}, base64_body=True).status == 200

    def test_the_blocked_fixture(self, upstream):
        reply = invoke_event(load_event("blocked.json"))
        assert reply.status == 400 and reply.error["code"] == "content_blocked"
        assert upstream.received == []


class TestOpenAIRoutes:
    def test_chat_completion(self):
        reply = call("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]})
        assert reply.status == 200
        assert reply.json["object"] == "chat.completion"
        assert reply.json["choices"][0]["message"]["content"] == "hello from upstream"

    def test_legacy_completion(self, upstream):
        reply = call("POST", "/v1/completions", {"prompt": "Say this is a test", "max_tokens": 7})
        assert reply.status == 200 and reply.json["choices"][0]["text"] == "hello from upstream"
        assert upstream.received[0].path == "/v1/completions"

    def test_stream_is_served_as_server_sent_events(self):
        reply = call(
            "POST",
            "/v1/chat/completions",
            {
                "messages": [{"role": "user", "content": "hi"}],
                "stream": True,
                "stream_options": {"include_usage": True},
            },
        )
        assert reply.status == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        events = [line.removeprefix("data: ") for line in reply.text.split("\n\n") if line]
        assert events[-1] == "[DONE]"
        chunks = [json.loads(event) for event in events[:-1]]
        assert (
            "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
            == "hello from upstream"
        )
        assert chunks[-1]["usage"]["total_tokens"] == 15

    def test_models_are_listed_from_the_upstream(self, upstream):
        reply = call("GET", "/v1/models")
        assert reply.status == 200 and reply.json["data"][0]["id"] == "test-model"
        assert upstream.received[0].path == "/v1/models"

    def test_health_makes_no_upstream_call(self, upstream):
        reply = call("GET", "/health")
        assert reply.status == 200 and reply.json["status"] == "ok"
        assert upstream.received == []

    def test_usage_without_a_table_says_limits_are_off(self):
        reply = call("GET", "/v1/usage")
        assert reply.status == 200 and reply.json["limits"]["enforced"] is False


class TestErrors:
    def test_unknown_route_is_404_in_the_openai_shape(self):
        reply = call("GET", "/nope")
        assert reply.status == 404
        assert set(reply.error) == {"message", "type", "code", "param"}

    def test_a_path_missing_its_v1_is_a_404_that_says_so(self):
        reply = call("POST", "/chat/completions", {"model": "m", "messages": []})
        assert reply.status == 404 and "did you mean /v1/chat/completions?" in reply.error["message"]
        assert "did you mean" not in call("GET", "/nope").error["message"]

    def test_an_endpoint_not_served_is_a_404_saying_why_not_a_405(self):
        # Given POST /v1/responses/compact, whose path looks like a stored response's
        reply = call("POST", "/v1/responses/compact", {"model": "m", "input": "x"})
        # Then it is a 404 saying it is not served and why, with no Allow header
        assert reply.status == 404 and reply.error["code"] == "not_served"
        assert "previous_response_id" in reply.error["message"] and "allow" not in reply.headers

    def test_wrong_method_is_405_with_allow(self):
        reply = call("DELETE", "/v1/chat/completions")
        assert reply.status == 405 and reply.headers["allow"] == "POST"

    def test_oversized_body_is_413(self):
        # MAX_BODY_BYTES defaults to Lambda's request payload, 6 MiB
        reply = call("POST", "/api/generate", raw_body=b'{"prompt": "' + b"x" * 6 * 1024 * 1024 + b'"}')
        assert reply.status == 413 and reply.error["code"] == "request_too_large"

    @pytest.mark.parametrize(
        "raw", [b"{", b"null", b"[]", b"\xff\xfe", b'{"prompt": 5}', b'{"prompt": null}']
    )
    def test_malformed_bodies_are_400(self, raw):
        reply = call("POST", "/api/generate", raw_body=raw)
        assert reply.status == 400, reply.text

    def test_an_invalid_base64_body_is_400(self):
        event = load_event("generate.json")
        event["body"] = "%%%"
        assert invoke_event(event).status == 400

    def test_upstream_failure_is_502_without_key_or_body(self, upstream):
        upstream.then(
            *[Behaviour(500, {"error": {"message": "internal upstream secret sauce"}}) for _ in range(8)]
        )
        reply = call("POST", "/api/generate", {"prompt": "p"})
        assert reply.status == 502 and reply.error["code"] == "upstream_error"
        assert "secret sauce" not in reply.text and "sk-test-provider-key" not in reply.text

    def test_upstream_deadline_is_504(self, gateway_env, upstream):
        gateway_env.setenv("AI_MODEL_TIMEOUT_S", "0.5")
        from lib import services

        services.reset()
        upstream.then(*[Behaviour(delay_s=2) for _ in range(4)])
        reply = call("POST", "/api/generate", {"prompt": "p"})
        assert reply.status == 504 and reply.error["type"] == "timeout"

    def test_the_deadline_never_passes_the_lambdas_remaining_time(self, upstream):
        upstream.then(*[Behaviour(delay_s=3) for _ in range(4)])
        reply = call("POST", "/api/generate", {"prompt": "p"}, remaining_s=1.6)  # 1.6 s - 1 s margin
        assert reply.status == 504

    def test_missing_endpoint_is_503_naming_it(self, gateway_env):
        gateway_env.delenv("AI_MODEL_ENDPOINT")
        from lib import services

        services.reset()
        for path in ("/health", "/api/generate"):
            reply = call("GET" if path == "/health" else "POST", path, {"prompt": "p"})
            assert reply.status == 503 and "AI_MODEL_ENDPOINT" in reply.error["message"]

    def test_bad_configuration_is_503_naming_the_variable(self, gateway_env):
        gateway_env.setenv("MAX_PROMPT_CHARS", "many")
        from lib import services

        services.reset()
        reply = call("POST", "/api/generate", {"prompt": "p"})
        assert reply.status == 503 and reply.error["code"] == "not_configured"
        assert "MAX_PROMPT_CHARS" in reply.error["message"]

    @pytest.mark.parametrize(
        "body",
        [
            {"prompt": ["a"]},
            {"prompt": {"x": 1}},
            {"prompt": "p", "max_tokens": None, "temperature": None},
            {"prompt": "p", "model": 7},
            {"prompt": "p", "domain": []},
            {"prompt": "\u0000\ud7ff"},
            {"messages": None},
            {"prompt": "p", "seed": 1.5},
        ],
    )
    def test_no_input_yields_a_500(self, body):
        for path in ("/api/generate", "/v1/chat/completions", "/v1/completions"):
            reply = call("POST", path, body)
            assert reply.status < 500 or reply.status in (502, 503, 504), (path, body, reply.text)
            assert "Traceback" not in reply.text


def test_base64_fixture_decodes_to_the_documented_request():
    event = load_event("generate.json")
    assert json.loads(base64.b64decode(event["body"]))["prompt"]


def test_a_function_url_event_is_served_by_the_same_handler():
    reply = invoke_event(load_event("function-url.json"))
    assert reply.status == 200 and reply.json["object"] == "chat.completion"


def test_a_function_url_event_needs_a_client_key_in_keys_mode(aws, gateway_env):
    gateway_env.setenv("AUTH_MODE", "keys")
    from lib import services

    services.reset()
    reply = invoke_event(load_event("function-url.json"))
    assert reply.status == 401


class TestReviewedEdges:
    def test_a_deeply_nested_body_is_400_not_500(self):
        reply = call("POST", "/api/generate", raw_body=b"[" * 30_000 + b"]" * 30_000)
        assert reply.status == 400 and "nested too deeply" in reply.error["message"]

    def test_a_blank_prompt_is_refused_before_any_spend(self, upstream):
        reply = call("POST", "/api/generate", {"prompt": " \n\t "})
        assert reply.status == 400 and reply.error["code"] == "missing_prompt"
        assert upstream.received == []

    def test_replies_keep_utf8_text_unescaped(self, upstream):
        from tests.support.fake_upstream import completion

        upstream.then(Behaviour(body=completion(text="你好，世界")))
        reply = call("POST", "/api/generate", {"prompt": "p"})
        assert "你好，世界" in reply.text and "\\u4f60" not in reply.text

    def test_a_200_without_choices_is_an_upstream_error(self, upstream):
        upstream.then(Behaviour(body={"error": {"message": "quota exceeded"}}))
        reply = call("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]})
        assert reply.status == 502 and "without any completion" in reply.error["message"]
        assert "quota" not in reply.text

    def test_no_aws_region_is_a_503_naming_it(self, gateway_env, monkeypatch):
        from lib import services

        monkeypatch.setenv("TABLE_NAME", "t")
        monkeypatch.delenv("AWS_DEFAULT_REGION")
        monkeypatch.delenv("AWS_REGION", raising=False)
        monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
        services.reset()
        reply = call("POST", "/api/generate", {"prompt": "p"})
        assert reply.status == 503 and "AWS_REGION" in reply.error["message"]

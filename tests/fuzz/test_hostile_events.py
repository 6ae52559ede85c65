"""Property-based tests: API Gateway v2 events a hostile caller could send, through the real handler.

For every event: never a 5xx (the upstream and the store are healthy, so any 5xx is caller input
become our failure), every error in OpenAI's shape, exactly one access line, nothing sent upstream
that a strict JSON parser refuses, and never the provider key or a client key in a reply or a log
line. With the table: usage settles exactly, by the charging rule that ships (docs/callers-and-limits.md):
a refused request or a cache hit takes nothing, an answered one exactly the usage its reply reports
(the provider's count, never capped at the reservation; a stream's usage chunk likewise). `make test`
runs the deterministic `suite` profile, `make fuzz` the long one.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from hypothesis import example, given, settings

from lib import services
from lib.admin import cli as admin
from lib.apis.anthropic_messages_errors import speaks_messages_api
from local.events import http_api_event
from tests.conftest import TABLE_NAME, Reply, invoke_event, log_lines, recording_logs
from tests.support import hostile

# Events fuzzing found that broke a property once: each runs on every test run from now on.
FOUND_BY_FUZZING = [
    ("/api/generate", '{"prompt": "hi", "model": "\\ud800"}'),  # issue 14 item 5: access line lost
    ("/v1/chat/completions", '{"messages": [{"role": "user", "content": "hi"}], "top_p": NaN}'),  # 502
    ("/v1/chat/completions", '{"messages": [{"role": "user", "content": "hi"}], "tools": %s}'  # 500
     % ("[" * 950 + "]" * 950)),
    ("/v1/chat/completions", '{"messages": [{"role": [], "content": "hi"}]}'),  # 500: unhashable role
    ("/api/generate", '{"prompt": "\u4e2d02,Z", "max_tokens": 3}'),  # issue 23 item 5: charged 8, reply 15
    ("/api/generate", '{"prompt": "hi", "model": "m\\u009f\\udac5\\udf38"}'),  # a header no server can send
]  # fmt: skip
PROVIDER_KEY = "sk-test-provider-key-0123456789abcdef"  # what gateway_env configures
ERROR_FIELDS = {"message", "type", "code", "param"}
# How a stream that finished ends, in OpenAI's format and in the Messages API's.
STREAM_ENDS = {False: "data: [DONE]\n\n", True: 'event: message_stop\ndata: {"type":"message_stop"}\n\n'}


def check_status_and_shape(status: int, body: Any, anthropic: bool = False) -> None:
    assert status < 500, f"{status} for caller input: {json.dumps(body)[:300]}"
    if status >= 400 and anthropic:  # the Messages API's paths: Anthropic's shape
        assert set(body) == {"type", "error"} and body["type"] == "error", json.dumps(body)[:300]
        assert set(body["error"]) == {"type", "message"} and isinstance(body["error"]["type"], str)
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    elif status >= 400:
        assert set(body) == {"error"} and set(body["error"]) == ERROR_FIELDS, json.dumps(body)[:300]
        error = body["error"]
        assert isinstance(error["message"], str) and error["message"]
        assert isinstance(error["type"], str)
        assert error["code"] is None or isinstance(error["code"], str)
        assert error["param"] is None or isinstance(error["param"], str)


def check_reply(reply: Reply, logged: str, secrets: tuple[str, ...], event: dict[str, Any]) -> None:
    anthropic = speaks_messages_api(event["rawPath"], event.get("headers") or {})
    if reply.headers.get("content-type", "").startswith("text/event-stream"):
        assert reply.status == 200 and reply.text.endswith(STREAM_ENDS[anthropic])
    else:
        body = json.loads(reply.text)
        assert isinstance(body, dict)
        check_status_and_shape(reply.status, body, anthropic)
        for result in body.get("results", []) if reply.status == 200 else []:  # a batch's items
            check_status_and_shape(result["status"], result["body"])
    for value in reply.headers.values():
        value.encode("latin-1")  # what an HTTP server can send (waitress answered 500 for one it could not)
    for secret in secrets:
        assert secret not in reply.text and secret not in json.dumps(reply.headers), "a secret in a reply"
        assert secret not in logged, "a secret in a log line"
    access_lines = [line for line in log_lines(logged) if line.get("message") == "request"]
    own = [line for line in access_lines if "batch_item" not in line]  # a batch's items have their own
    assert len(own) == 1, f"{len(own)} access lines for one request"
    assert own[0]["status"] == reply.status
    items = len(access_lines) - 1
    if reply.status == 200 and reply.headers.get("content-type", "").startswith("application/json"):
        assert items == len(json.loads(reply.text).get("results", [])), "a batch item without its line"


def stream_usage(text: str) -> dict[str, Any] | None:
    for line in reversed(text.split("\n\n")):
        if line.startswith("data: {"):
            usage = json.loads(line.removeprefix("data: ")).get("usage")
            if isinstance(usage, dict):
                return usage
    return None


def send(event: dict[str, Any]) -> tuple[Reply, str]:
    with recording_logs() as logged:
        reply = invoke_event(event)
    return reply, logged.getvalue()


def check_sent_upstream(upstream: Any, already: int) -> None:
    for received in upstream.received[already:]:
        # Python's parser takes NaN and Infinity; a provider's does not, and answers 400 (then ours: 502).
        json.dumps(received.body, allow_nan=False)


@pytest.fixture
def open_gateway(gateway_env):
    """AUTH_MODE=none and no table: every event reaches validation and the upstream."""
    gateway_env.setenv("DETAILED_METRICS", "true")  # the metric paths see the hostile values too
    gateway_env.setenv("MAX_BODY_BYTES", "65536")  # (the default is 6 MiB) so that huge_text reaches it
    services.reset()
    return gateway_env


@pytest.fixture
def keyed_gateway(aws, gateway_env):
    """AUTH_MODE=keys with the table: one client key, limits high enough never to be the answer."""
    gateway_env.setenv("AUTH_MODE", "keys")
    gateway_env.setenv("DAILY_TOKEN_BUDGET", str(10**9))
    services.reset()
    out = io.StringIO()
    create = ["--table", TABLE_NAME, "keys", "create", "--name", "fuzz", "--rpm", "100000"]
    assert admin.main(create, out=out, dynamodb_client=aws) == 0
    text = out.getvalue()
    key, key_id = text.split("key:")[1].split()[0], text.split("key id:")[1].split()[0]
    return aws, key, key_id


def with_found_examples(test: Any, client_key: str | None = None) -> Any:
    headers = [("content-type", "application/json")]
    if client_key:
        headers.append(("authorization", f"Bearer {client_key}"))
    for path, body in FOUND_BY_FUZZING:
        test = example(event=http_api_event("POST", path, body=body.encode(), headers=headers))(test)
    return test


def test_no_event_from_a_caller_becomes_a_5xx_a_bad_shape_or_a_leak(open_gateway, upstream):
    @given(event=hostile.events())
    def property_holds(event: dict[str, Any]) -> None:
        already = len(upstream.received)
        reply, logged = send(event)
        check_reply(reply, logged, (PROVIDER_KEY,), event)
        check_sent_upstream(upstream, already)

    with_found_examples(property_holds)()


def test_with_keys_and_the_table_usage_settles_exactly(keyed_gateway, upstream):
    dynamodb, key, key_id = keyed_gateway

    def tokens_today() -> int:
        item = dynamodb.get_item(TableName=TABLE_NAME, Key={"pk": {"S": "LIMITS"}, "sk": {"S": key_id}})
        days = [value for name, value in item.get("Item", {}).items() if re.fullmatch(r"tokens_\d{8}", name)]
        return sum(int(value["N"]) for value in days)

    @settings(max_examples=max(10, settings.default.max_examples // 3))  # each example is 4 table calls
    @given(event=hostile.events(client_keys=(key, key, key)))
    def property_holds(event: dict[str, Any]) -> None:
        already, before = len(upstream.received), tokens_today()
        reply, logged = send(event)
        check_reply(reply, logged, (PROVIDER_KEY, key), event)
        check_sent_upstream(upstream, already)
        charged = tokens_today() - before
        if reply.status >= 400 or reply.headers.get("x-cache") == "hit":
            assert charged == 0, f"a refused or cached request ({reply.status}) was charged {charged} tokens"
        elif reply.headers.get("content-type", "").startswith("application/json"):
            body = json.loads(reply.text)
            if "results" in body:  # a batch: what its answered items that were not cache hits say
                answered = [
                    result
                    for result in body["results"]
                    if result["status"] == 200 and result.get("headers", {}).get("x-cache") != "hit"
                ]
                body = {"usage": {"total_tokens": sum(r["body"]["usage"]["total_tokens"] for r in answered)}}
            usage = body.get("usage")
            if usage is not None:
                assert charged == usage["total_tokens"], f"charged {charged}, the reply says {usage}"
        else:  # a stream: its usage chunk, when the caller asked for one
            usage = stream_usage(reply.text)
            if usage is not None:
                assert charged == usage["total_tokens"], f"charged {charged}, the stream says {usage}"

    with_found_examples(property_holds, client_key=key)()

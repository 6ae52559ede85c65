"""The API function from the artifact under awslambdaric, with the template's environment and IAM:
API Gateway v2 events in, Lambda proxy responses out."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from lib.http.events import http_api_event
from tests.smoke.conftest import Aws
from tests.smoke.runtime_api import Function, lambda_environment

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 20}


@pytest.fixture(scope="module")
def api(aws: Aws, artifact, lambda_python) -> Iterator[Function]:
    environment = {
        **aws.stack.environment("ApiFunction"),
        **lambda_environment("us-east-1", aws.credentials["ApiFunction"], aws.endpoint),
    }
    function = Function(lambda_python, artifact, "handler.api_handler", environment)
    yield function
    function.stop()


def send(api: Function, method: str, path: str, key: str | None, body: Any = None) -> tuple[int, dict, str]:
    headers = [("content-type", "application/json")]
    if key:
        headers.append(("authorization", f"Bearer {key}"))
    event = http_api_event(method, path, body=json.dumps(body).encode() if body else None, headers=headers)
    kind, reply = api.invoke(event)
    assert kind == "response", f"the function failed: {reply}\n{api.output()[-3000:]}"
    text = base64.b64decode(reply["body"]).decode() if reply.get("isBase64Encoded") else reply.get("body", "")
    return reply["statusCode"], {k.lower(): v for k, v in reply.get("headers", {}).items()}, text


def test_a_chat_is_answered(api, aws):
    status, _, text = send(api, "POST", "/v1/chat/completions", aws.client_key, CHAT)
    assert status == 200, text
    assert json.loads(text)["choices"][0]["message"]["content"] == "hello from upstream"


def test_generate_is_answered(api, aws):
    status, _, text = send(api, "POST", "/api/generate", aws.client_key, {"prompt": "Hi", "max_tokens": 20})
    assert status == 200, text
    assert "hello from upstream" in text


def test_a_stream_through_the_http_api_arrives_in_one_piece(api, aws):
    status, headers, text = send(
        api, "POST", "/v1/chat/completions", aws.client_key, {**CHAT, "stream": True}
    )
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    assert text.rstrip().endswith("data: [DONE]") and "hello" in text


def test_the_models_are_listed(api, aws):
    status, _, text = send(api, "GET", "/v1/models", aws.client_key)
    assert status == 200 and json.loads(text)["data"]


def test_a_seeded_request_is_cached_with_the_templates_grants(api, aws):
    # Given a request that sends a seed (CACHE_MODE=seeded), sent twice
    seeded = {**CHAT, "seed": 7, "messages": [{"role": "user", "content": "Cache me"}]}
    first = send(api, "POST", "/v1/chat/completions", aws.client_key, seeded)
    second = send(api, "POST", "/v1/chat/completions", aws.client_key, seeded)
    # Then the second is answered from the table: the cache's PutItem was allowed
    assert (first[0], second[0]) == (200, 200)
    assert (first[1]["x-cache"], second[1]["x-cache"]) == ("miss", "hit"), api.output()[-2000:]


def test_a_caller_over_its_limit_is_told_when_to_come_back(api, aws):
    assert send(api, "POST", "/v1/chat/completions", aws.limited_key, CHAT)[0] == 200
    status, headers, text = send(api, "POST", "/v1/chat/completions", aws.limited_key, CHAT)
    assert status == 429 and int(headers["retry-after"]) >= 1
    assert json.loads(text)["error"]["type"]


def test_an_unknown_key_is_refused(api):
    status, _, text = send(api, "POST", "/v1/chat/completions", "mg-" + "0" * 43, CHAT)
    assert status == 401 and json.loads(text)["error"]


def test_nothing_was_refused_by_iam(api):
    # Every table and key call above went through the template's grants: none was denied.
    assert '"message":"store error"' not in api.output()

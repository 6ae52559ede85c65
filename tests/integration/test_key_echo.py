"""Issue 21, hardening item 5: a provider that echoes the request's headers into its answer's text
hands the route's key neither to the caller (whole answers, streams joined or written piece by piece)
nor to the access line with LOG_PROMPTS=true."""

from __future__ import annotations

import json

import pytest
import requests

from lib import services
from lib.platform.redaction import REDACTED
from local.server import serving
from tests.conftest import call
from tests.integration.test_route_keys import KEY_SECRET, KEY_SSM, stores  # noqa: F401 (a fixture)
from tests.support.fake_upstream import Behaviour, completion

KEY = "sk-test-provider-key-0123456789abcdef"  # the gateway_env fixture's AI_MODEL_API_KEY
HELLO = [{"role": "user", "content": "Hello"}]


def echoing(key: str, *, chat: bool = True) -> Behaviour:
    return Behaviour(body=completion(f"You sent Authorization: Bearer {key}", chat=chat))


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {"messages": HELLO}),
        ("/v1/completions", {"prompt": "Hello"}),
        ("/api/generate", {"prompt": "Hello"}),
        ("/v1/messages", {"model": "test-model", "max_tokens": 50, "messages": HELLO}),
    ],
)
def test_an_echoed_key_reaches_neither_the_caller_nor_the_access_line(
    gateway_env, upstream, output, path, body
):
    # Given prompts logged, and a provider whose answer's text holds the key it was sent
    gateway_env.setenv("LOG_PROMPTS", "true")
    services.reset()
    upstream.then(echoing(KEY, chat=path != "/v1/completions"))
    # When a caller asks
    reply = call("POST", path, body)
    # Then the answer arrives with the key scrubbed, and the access line's completion too
    assert reply.status == 200 and KEY not in reply.text and REDACTED in reply.text
    line = output.access_lines()[-1]
    assert KEY not in json.dumps(line) and REDACTED in line["completion"]


def test_an_echoed_key_in_a_stream_is_scrubbed(gateway_env, upstream):
    upstream.then(Behaviour(words=("You sent ", f"Authorization: Bearer {KEY}", " as asked")))
    reply = call("POST", "/v1/chat/completions", {"messages": HELLO, "stream": True})
    assert reply.status == 200 and reply.text.endswith("data: [DONE]\n\n")
    assert KEY not in reply.text and REDACTED in reply.text


def test_a_stream_written_piece_by_piece_by_the_http_server_is_scrubbed(gateway_env, upstream):
    import handler

    upstream.then(Behaviour(words=("You sent ", f"Bearer {KEY}", " as asked")))
    with (
        serving(handler.wsgi_app) as url,
        requests.post(
            f"{url}/v1/chat/completions", json={"messages": HELLO, "stream": True}, stream=True, timeout=10
        ) as reply,
    ):
        text = b"".join(reply.iter_content(chunk_size=None)).decode()
    assert reply.status_code == 200 and text.endswith("data: [DONE]\n\n")
    assert KEY not in text and REDACTED in text


def test_route_keys_from_ssm_and_secrets_manager_are_scrubbed(stores, upstream):  # noqa: F811
    # Given two routes whose keys come from SSM and from Secrets Manager, and a provider echoing them
    for model, key in (("deepseek", KEY_SSM), ("qwen", KEY_SECRET)):
        upstream.then(echoing(key))
        # When each route answers
        reply = call("POST", "/v1/chat/completions", {"model": model, "messages": HELLO})
        # Then its key, which it did send, is not in the answer
        assert upstream.received[-1].headers["Authorization"] == f"Bearer {key}"
        assert reply.status == 200 and key not in reply.text and REDACTED in reply.text

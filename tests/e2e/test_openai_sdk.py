"""The official `openai` SDK as a real client, over HTTP, against the gateway served like `make run`."""

import threading

import openai
import pytest

from local.server import make_server
from tests.support.fake_upstream import Behaviour


@pytest.fixture
def gateway(gateway_env):
    import handler

    server = make_server(0, handler.api_handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def client(gateway):
    return openai.OpenAI(
        base_url=f"{gateway}/v1", api_key="mg-not-checked-in-auth-mode-none", max_retries=0, timeout=10
    )


def test_chat_completions(client, upstream):
    completion = client.chat.completions.create(
        model="test-model", messages=[{"role": "user", "content": "Hello"}], temperature=0.5, seed=7
    )
    assert completion.choices[0].message.content == "hello from upstream"
    assert completion.usage.total_tokens == 15
    assert upstream.received[0].body["seed"] == 7


def test_chat_completions_streamed(client):
    stream = client.chat.completions.create(
        model="test-model",
        messages=[{"role": "user", "content": "Hello"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "hello from upstream"
    assert chunks[-1].usage.total_tokens == 15


def test_legacy_completions(client):
    completion = client.completions.create(model="test-model", prompt="Say this is a test", max_tokens=7)
    assert completion.choices[0].text == "hello from upstream"


def test_model_listing(client):
    assert [model.id for model in client.models.list()] == ["test-model"]


def test_bad_input_raises_bad_request_error(client):
    with pytest.raises(openai.BadRequestError) as error:
        client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], temperature=1.5
        )
    assert error.value.status_code == 400
    assert error.value.body["param"] == "temperature"


def test_unknown_route_raises_not_found_error(gateway):
    client = openai.OpenAI(base_url=f"{gateway}/nope", api_key="k" * 20, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        client.models.list()


def test_upstream_failure_raises_internal_server_error(client, upstream):
    upstream.then(*[Behaviour(503, {}) for _ in range(4)])
    with pytest.raises(openai.InternalServerError) as error:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert error.value.status_code == 502
    assert error.value.body["code"] == "upstream_error"

"""The official `openai` SDK as a real client, over HTTP, against the gateway served like `make run`."""

import openai
import pytest

from local.server import serving
from tests.support.fake_upstream import Behaviour


@pytest.fixture
def gateway(gateway_env):
    import handler

    with serving(handler.wsgi_app) as url:
        yield url


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
            model="m", messages=[{"role": "user", "content": "hi"}], temperature=2.5
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


@pytest.fixture
def keyed_gateway(aws, gateway_env, gateway):
    """The same server, now with client keys and a rate limit of 1 request (burst 1)."""
    from lib import services
    from tests.support.client_keys import new_client_key

    gateway_env.setenv("AUTH_MODE", "keys")
    gateway_env.setenv("RATE_LIMIT_RPM", "1")
    gateway_env.setenv("RATE_LIMIT_BURST", "1")
    services.reset()
    return gateway, new_client_key(aws)


def test_an_unknown_key_raises_authentication_error(keyed_gateway):
    url, _ = keyed_gateway
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="mg-not-a-real-key-000000000000", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as error:
        client.models.list()
    assert error.value.status_code == 401 and error.value.body["code"] == "invalid_api_key"


def test_the_rate_limit_raises_rate_limit_error_with_retry_after(keyed_gateway):
    url, key = keyed_gateway
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.RateLimitError) as error:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert error.value.status_code == 429 and int(error.value.response.headers["retry-after"]) >= 1


@pytest.mark.parametrize("temperature", [0, 0.0, 1, 2])
def test_the_sdk_and_langchain_default_temperatures_work(client, upstream, temperature):
    # LangChain's ChatOpenAI(temperature=0) sends 0; the SDK's examples use 0.0, 1 and 2.
    raw = client.chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": "hi"}], temperature=temperature
    )
    assert raw.parse().choices[0].message.content == "hello from upstream"
    assert raw.headers["x-temperature-clamped"].startswith(f"{temperature:g}->")
    assert 0.1 <= upstream.received[0].body["temperature"] <= 0.9


def test_models_in_strict_mode_even_when_the_upstream_sends_bare_entries(gateway, upstream):
    # Strict mode validates every field of the response against OpenAI's types.
    strict = openai.OpenAI(
        base_url=f"{gateway}/v1", api_key="k" * 20, max_retries=0, _strict_response_validation=True
    )
    upstream.then(
        Behaviour(body={"data": [{"id": "bare-model"}]}), Behaviour(body={"data": [{"id": "bare-model"}]})
    )
    assert [model.id for model in strict.models.list()] == ["bare-model"]
    model = strict.models.retrieve("bare-model")
    assert (model.id, model.object, model.created, model.owned_by) == ("bare-model", "model", 0, "modelgate")
    with pytest.raises(openai.NotFoundError):
        strict.models.retrieve("not-served-here")


def test_replies_pass_the_sdk_s_strict_validation(gateway):
    # The shapes openai-python's own API tests check (run by hand against `make run`, see README).
    strict = openai.OpenAI(
        base_url=f"{gateway}/v1", api_key="k" * 20, max_retries=0, _strict_response_validation=True
    )
    chat = strict.chat.completions.create(model="m", messages=[{"role": "developer", "content": "string"}])
    assert chat.object == "chat.completion" and chat.choices[0].finish_reason == "stop"
    legacy = strict.completions.create(model="m", prompt="This is a test.", max_tokens=16, n=1)
    assert legacy.object == "text_completion" and legacy.choices[0].text == "hello from upstream"

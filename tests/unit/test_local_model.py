"""The built-in local model counts what it read honestly, however the OpenAI API lets a message hold it."""

import socket

import pytest
import requests

from local.model import LocalModel, tokenize


@pytest.fixture(scope="module")
def model():
    model = LocalModel().start()
    yield model.base_url
    model.stop()


def chat(base_url, messages):
    reply = requests.post(
        f"{base_url}/chat/completions", json={"model": "m", "messages": messages}, timeout=10
    )
    assert reply.status_code == 200
    return reply.json()


def test_content_as_text_parts_is_read_and_counted_as_a_string_is(model):
    # Given the same conversation with its contents as strings, and as lists of parts
    as_strings = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is serverless?"},
    ]
    as_parts = [
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                {"type": "text", "text": "serverless?"},
            ],
        },
    ]
    # When both are asked
    strings, parts = chat(model, as_strings), chat(model, as_parts)
    # Then the parts are read (the reply echoes them) and counted like the strings
    expected_prompt = len(tokenize("Be brief. What is serverless?"))
    assert strings["usage"]["prompt_tokens"] == parts["usage"]["prompt_tokens"] == expected_prompt
    assert parts["choices"][0]["message"]["content"] == "Local model reply: What is serverless?"
    assert parts["usage"] == strings["usage"]


def test_whole_answers_keep_the_connection_open_as_a_providers_api_does(model, monkeypatch):
    connects = []
    connect = socket.socket.connect
    monkeypatch.setattr(
        socket.socket, "connect", lambda sock, address: (connects.append(address), connect(sock, address))[1]
    )
    with requests.Session() as session:
        for _ in range(3):
            reply = session.post(
                f"{model}/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}
            )
            assert reply.status_code == 200 and reply.raw.version == 11
    assert len(connects) == 1  # three requests, one connection

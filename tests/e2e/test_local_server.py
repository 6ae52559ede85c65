"""`make run`'s server: what a user sees when the port is taken, the admin commands' settings file, and
the README's quick start against what `make run` starts, with and without the example routes."""

import contextlib
import json
import os
import re
import socket
import sys
from pathlib import Path

import openai
import pytest
import requests

import local.model
from lib import services
from lib.http.wsgi import create_server
from local import server, stack
from local.server import serving

REPO = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_taken_port_gives_a_clear_message_and_leaves_the_running_one_s_settings(
    gateway_env, monkeypatch, tmp_path
):
    # Given a `make run` that serves on `port` and wrote the admin commands' settings
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    run_env = tmp_path / "run.env"
    first = "AWS_ENDPOINT_URL=http://127.0.0.1:1\nTABLE_NAME=first-run\n"
    run_env.write_text(first)
    # When a second one, with a table of its own, starts on the same port
    gateway_env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:2")
    gateway_env.setenv("TABLE_NAME", "second-run")
    monkeypatch.setattr(sys, "argv", ["local.server", "--port", str(port), "--run-env", str(run_env)])
    # Only the port matters here; the real stack would write os.environ behind monkeypatch's back.
    monkeypatch.setattr(server, "local_stack", contextlib.nullcontext)
    try:
        with pytest.raises(SystemExit) as exit_:
            server.main()
    finally:
        taken.close()
    # Then it says so and suggests a free port, and the first one's settings stay as they were
    assert f"cannot serve on 127.0.0.1:{port}" in str(exit_.value)
    suggested = int(str(exit_.value).split("PORT=")[1].split()[0])
    assert suggested != port
    assert run_env.read_text() == first


def test_the_port_suggested_is_free_and_not_the_built_in_model_s(monkeypatch):
    # Given a taken port, and the built-in model's port right after it
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    monkeypatch.setattr(server, "LOCAL_MODEL_PORT", port + 1)
    try:
        # When a port is suggested instead of it
        suggested = server.port_to_suggest(port)
    finally:
        taken.close()
    # Then it is neither, and it is free
    assert suggested not in (port, port + 1)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", suggested))


def test_a_run_removes_its_own_settings_but_not_those_a_later_run_wrote(tmp_path):
    path = tmp_path / "run.env"
    environ = {"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "TABLE_NAME": "first-run"}
    with server.admin_settings(path, environ):
        assert "AWS_ENDPOINT_URL=http://127.0.0.1:1" in path.read_text()
    assert not path.exists()
    with server.admin_settings(path, environ):
        path.write_text("AWS_ENDPOINT_URL=http://127.0.0.1:2\nTABLE_NAME=later-run\n")  # a later make run
    assert "TABLE_NAME=later-run" in path.read_text()


def test_a_burst_waits_in_the_listen_backlog_instead_of_being_refused():
    # Given a server that is busy (not accepting at all for now)
    busy = create_server(lambda environ, start_response: [], "127.0.0.1", 0)
    port = busy.effective_port
    waiting = []
    try:
        # When 30 clients connect at once, every connection is taken into the backlog
        for _ in range(30):
            waiting.append(socket.create_connection(("127.0.0.1", port), timeout=2))
    finally:
        for connection in waiting:
            connection.close()
        busy.close()
    assert len(waiting) == 30


README = REPO / "README.md"
EXAMPLE_ROUTES = REPO / "routes.example.toml"


def quick_start_examples():
    """The README's quick start: its curl request (path and body) and its Python code."""
    text = README.read_text(encoding="utf-8").split("## Start here", 1)[1].split("\n## ", 1)[0]
    (curl,) = re.findall(r"curl -s localhost:3000(\S+) -d '(.+)'", text)
    (python,) = re.findall(r"```python\n(.*?)```", text, re.S)
    return curl[0], json.loads(curl[1]), python


@pytest.fixture(params=["built-in model", "example routes"])
def make_run_stack(request, aws, gateway_env, monkeypatch, tmp_path):
    """The gateway in front of what `make run` starts: the built-in model alone, or the shipped example
    routes (the built-in model on a free port instead of 3001; no provider key set)."""
    environ = {"TABLE_NAME": os.environ["TABLE_NAME"]}  # the `aws` fixture's moto table
    monkeypatch.setattr(local.model, "PACE_S", 0.0)
    for variable in ("DEEPSEEK_API_KEY", "DASHSCOPE_API_KEY", "ZHIPU_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    if request.param == "example routes":
        port = free_port()
        monkeypatch.setattr(stack, "LOCAL_MODEL_PORT", port)
        routes = tmp_path / "routes.toml"
        routes.write_text(EXAMPLE_ROUTES.read_text("utf-8").replace("127.0.0.1:3001", f"127.0.0.1:{port}"))
        environ["ROUTES_FILE"] = str(routes)
    with stack.local_stack(environ) as started:
        for name in [name for name in os.environ if name.startswith("AI_MODEL_")]:
            monkeypatch.delenv(name)  # the fake upstream's, from gateway_env
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        services.reset()
        import handler

        with serving(handler.wsgi_app) as url:
            yield url, started


def test_the_readme_quick_start_works_with_and_without_the_example_routes(make_run_stack):
    # Given `make run`, with or without the example routes, and the README's quick start
    url, started = make_run_stack
    path, body, python = quick_start_examples()
    # When its curl request is sent
    reply = requests.post(f"{url}{path}", json=body, timeout=30)
    # Then the built-in model answers it (through the default route's fallback with the routes)
    assert reply.status_code == 200, reply.text
    assert reply.json()["text"] == "Local model reply: Write one sentence about serverless."
    assert reply.json()["usage"] == {"prompt_tokens": 6, "completion_tokens": 10, "total_tokens": 16}
    # And its Python runs as written: a reply, a tool call and structured output the SDK parses
    lines = []
    printed = {"print": lambda *values: lines.append(" ".join(str(value) for value in values))}
    exec(python.replace("http://127.0.0.1:3000", url), printed)
    assert lines[0] == "Local model reply: Hi 6"  # 1 token read, 5 written
    assert lines[1] == 'get_weather {"city": "Weather in Paris?"}'
    assert lines[2] == "name='Tell me about Paris' population=1"
    assert lines[3] == "2 384 2"  # embeddings: two vectors of the default size, a token each
    assert (started.routes is None) == (os.environ.get("ROUTES_FILE") is None)
    # And a tool call streams through the gateway in pieces that add up to the whole answer's
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0, timeout=30)
    tool = {
        "type": "function",
        "function": {
            "name": "f",
            "parameters": {
                "type": "object",
                "properties": {"n": {"type": "integer"}, "s": {"type": "string"}},
                "required": ["n", "s"],
            },
        },
    }
    ask = {"model": "modelgate-local", "messages": [{"role": "user", "content": "go"}], "tools": [tool]}
    whole = client.chat.completions.create(**ask).choices[0].message.tool_calls[0]
    chunks = [chunk for chunk in client.chat.completions.create(**ask, stream=True) if chunk.choices]
    calls = [chunk.choices[0].delta.tool_calls[0] for chunk in chunks if chunk.choices[0].delta.tool_calls]
    assert calls[0].id == whole.id and calls[0].function.name == "f"
    pieces = [call.function.arguments for call in calls]
    assert len(pieces) > 3 and "".join(pieces) == whole.function.arguments == '{"n": 1, "s": "go"}'
    assert chunks[-1].choices[0].finish_reason == "tool_calls"

"""`make run`'s server: what a user sees when the port is taken, and the admin commands' settings file."""

import contextlib
import socket
import sys

import pytest

from lib.http.wsgi import create_server
from local import server


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

"""`make run`'s server: what a user sees when the port is taken."""

import contextlib
import socket
import sys

import pytest

from lib.http_server import create_server
from local import server


def test_a_taken_port_gives_a_clear_message(gateway_env, monkeypatch):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    monkeypatch.setattr(sys, "argv", ["local.server", "--port", str(port)])
    # Only the port matters here; the real stack would write os.environ behind monkeypatch's back.
    monkeypatch.setattr(server, "local_stack", contextlib.nullcontext)
    try:
        with pytest.raises(SystemExit) as exit_:
            server.main()
    finally:
        taken.close()
    assert f"cannot serve on 127.0.0.1:{port}" in str(exit_.value)
    assert f"PORT={port + 1} make run" in str(exit_.value)


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

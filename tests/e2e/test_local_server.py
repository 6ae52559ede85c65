"""`make run`'s server: what a user sees when the port is taken."""

import contextlib
import socket
import sys

import pytest

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

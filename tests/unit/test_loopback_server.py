"""The suite's loopback fakes are quiet about a client that hung up, and loud about anything else."""

import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler

import pytest

from tests.support.loopback import LoopbackHTTPServer


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/bug":
            raise ValueError("a real bug in a fake")
        self.send_response(200)
        self.end_headers()
        # The client has hung up: writing on finds that out (BrokenPipe or ConnectionReset).
        for _ in range(1000):
            self.wfile.write(b"x" * 65536)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Recorded(LoopbackHTTPServer):
    """Says when a request is over: socketserver closes it after handle_error."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.done = threading.Event()

    def shutdown_request(self, request: socket.socket) -> None:
        super().shutdown_request(request)
        self.done.set()


@pytest.fixture
def server():
    server = _Recorded()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_client_that_hangs_up_mid_reply_leaves_no_traceback(server, capsys):
    # Given a client whose reply has begun
    with socket.create_connection(server.server_address, timeout=5) as client:
        client.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        assert client.recv(12).startswith(b"HTTP/1.0 200")
        # When it hangs up (a reset, as a caller that went away) while the rest is being written
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    assert server.done.wait(10), "the server did not finish the request"
    # Then the server says nothing about it
    assert capsys.readouterr().err == ""


def test_a_real_error_in_a_handler_is_still_printed(server, capsys):
    with socket.create_connection(server.server_address, timeout=5) as client:
        client.sendall(b"GET /bug HTTP/1.1\r\nHost: x\r\n\r\n")
        assert client.recv(100) == b""  # no answer: the handler failed and the server closed
    assert server.done.wait(10), "the server did not finish the request"
    printed = capsys.readouterr().err
    assert "Traceback" in printed and "ValueError: a real bug in a fake" in printed

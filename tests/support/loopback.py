"""The HTTP server under the suite's loopback fakes: the standard library's, quiet about a client that
hung up.

Tests hang up on these servers on purpose (a caller that leaves mid-stream, a deadline that cuts a
slow reply), and socketserver prints a traceback for every one, which makes a passing `make test`
look broken. Any other exception in a handler is still printed in full.
"""

from __future__ import annotations

import sys
from http.server import ThreadingHTTPServer
from typing import Any

# What a write to, or a read from, a client that went away raises.
CLIENT_LEFT = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class LoopbackHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], CLIENT_LEFT):
            return
        super().handle_error(request, client_address)

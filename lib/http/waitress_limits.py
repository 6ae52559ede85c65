"""The HTTP server's limits (waitress, for lib/http/wsgi.py): what one client, or many, can hold of it.

- **Bodies.** A body larger than the platform takes (Lambda's request payload, LAMBDA_MAX_PAYLOAD_BYTES),
  declared by Content-Length or sent chunked, is not read past it: waitress stops reading at the limit,
  and instead of its own plain-text 413 the request goes to the app without its body, its
  Content-Length saying how large it is (at least), so the route answers 413 in the caller's own
  format (lib/stages/request_body.py). The connection is closed after that answer: the rest of the
  body is never read.
- **Connections.** Connections that send nothing (half-open, or a client gone quiet) must not lock
  others out: waitress accepts 100 at once by default, and further ones wait in the backlog until an
  idle one times out. This server accepts CONNECTION_LIMIT, raises the process's descriptor limit for
  them where the system allows (else takes what it leaves), polls instead of select() (which fails
  past 1,024 descriptors), and closes a connection idle for the given time.

Imported only when a server is created: the API function, which never serves HTTP, does not load
waitress on its cold start.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import create_server
from waitress.task import ErrorTask, Task, WSGITask
from waitress.utilities import RequestEntityTooLarge

CONNECTION_LIMIT = 2048
# Descriptors left for everything else the process opens: the listening socket, the upstream and AWS
# connections, files.
SPARE_DESCRIPTORS = 256


def limited_server(
    app: Any, host: str, port: int, *, max_body_bytes: int, idle_timeout_s: float, loop_timeout_s: float
) -> Any:
    # A stream's pieces go out as they come: `send_bytes=1` makes every write wake the server's loop
    # to send it (by default waitress waits for 18,000 bytes, or for its loop's next turn).
    server = create_server(
        app,
        host=host,
        port=port,
        threads=4,
        backlog=1024,
        send_bytes=1,
        connection_limit=connection_limit(),
        asyncore_use_poll=True,
        channel_timeout=idle_timeout_s,
        max_request_body_size=max_body_bytes + 1,  # waitress refuses a body of this size or more
        asyncore_loop_timeout=loop_timeout_s,
        ident="modelgate",
    )
    server.channel_class = _Channel
    return server


def connection_limit() -> int:
    """CONNECTION_LIMIT, or what the process's descriptor limit leaves room for once raised as far as
    the system allows (Lambda's is 1,024, and there only the adapter connects)."""
    try:
        import resource
    except ImportError:  # not a Unix: no descriptor limit to read
        return CONNECTION_LIMIT
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = CONNECTION_LIMIT + SPARE_DESCRIPTORS
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
    if soft == resource.RLIM_INFINITY:
        return CONNECTION_LIMIT
    return max(1, min(CONNECTION_LIMIT, soft - SPARE_DESCRIPTORS))


class _RefusedBodyTask(WSGITask):
    """A request whose body waitress stopped reading at the limit: the app answers it without the body,
    then the connection closes (what is left of the body is still on its way and is never read)."""

    def get_environment(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environment()
        request: HTTPRequestParser = self.request
        environ["wsgi.input"] = io.BytesIO()
        # Declared, or (chunked) the bytes received when waitress stopped: past the limit either way.
        environ["CONTENT_LENGTH"] = str(max(request.content_length, request.body_bytes_received))
        return environ

    def execute(self) -> None:
        self.set_close_on_finish()  # before the headers go out, so they say `Connection: close`
        super().execute()


def _error_task(channel: HTTPChannel, request: HTTPRequestParser) -> Task:
    if isinstance(request.error, RequestEntityTooLarge):
        return _RefusedBodyTask(channel, request)
    return ErrorTask(channel, request)


class _Channel(HTTPChannel):
    error_task_class = staticmethod(_error_task)

"""`make run`: serve the gateway at http://127.0.0.1:3000 like `sam local start-api`, without Docker.

It is the HTTP server the streaming Function URL runs on AWS (lib/http/wsgi.py, waitress), serving
`handler.wsgi_app`: each request becomes an API Gateway HTTP API (v2) event and goes through the
same core as `handler.api_handler`, and `stream: true` answers are written chunk by chunk. Requests
are handled one at a time, as one Lambda container does; others wait their turn.

Before it serves, it prints one block that says everything that is on (local/startup.py); then one
short line per request (local/console.py; `--json-logs` for Lambda's JSON lines). While it runs, it
writes what the admin commands need to reach its local table to a git-ignored file.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lib.http.wsgi import create_server
from local.console import ConsoleLog
from local.stack import LOCAL_MODEL_PORT, local_stack
from local.startup import startup_block

# What the admin commands (make keys-create, usage, ...) need to reach this run's table.
RUN_ENV_FILE = ".make-run.env"
_ADMIN_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "TABLE_NAME",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "AUTH_MODE",  # so `make keys-create` can say when the run does not check keys
)


@contextmanager
def serving(app: Any, port: int = 0) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 in a background thread; yields the base URL (tests, benchmarks)."""
    server = create_server(app, "127.0.0.1", port, loop_timeout_s=0.05)  # stops within 50 ms
    stopping = threading.Event()

    def run() -> None:
        try:
            server.run()
        except OSError:
            if not stopping.is_set():
                raise  # closing the sockets under waitress's loop is how it stops; anything else is not

    thread = threading.Thread(target=run, name="modelgate-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stopping.set()
        # waitress's loop runs while any connection is open: keep-alive ones end with the server.
        for channel in list(server.active_channels.values()):
            channel.will_close = True
        server.task_dispatcher.shutdown()
        server.close()
        thread.join(timeout=5)


@contextmanager
def admin_settings(path: Path, environ: MutableMapping[str, str] = os.environ) -> Iterator[None]:
    """Write what the admin commands need to reach this run's local table; remove it on the way out.

    Only for a table behind a local endpoint (the embedded AWS, or one you pointed AWS_ENDPOINT_URL
    at): against real AWS the admin commands use your own credentials and STACK or TABLE_NAME.
    On the way out the file is removed only while it still holds what this run wrote: a `make run`
    started later may have written its own, and that one still serves.
    """
    if not environ.get("AWS_ENDPOINT_URL") or not environ.get("TABLE_NAME"):
        yield
        return
    lines = [f"{name}={environ[name]}" for name in _ADMIN_VARIABLES if environ.get(name)]
    written = "\n".join(lines) + "\n"
    path.write_text(written, encoding="utf-8")
    try:
        yield
    finally:
        if _read(path) == written:
            path.unlink(missing_ok=True)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def port_to_suggest(taken: int) -> int:
    """A port after `taken` that is free now and is not the built-in model's (routes.example.toml's
    `local` route reaches it on LOCAL_MODEL_PORT), for the message that `taken` is in use."""
    for candidate in range(taken + 1, min(taken + 100, 65536)):
        if candidate == LOCAL_MODEL_PORT:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return candidate
    with socket.socket() as probe:  # nothing free just above it: any port the system has free
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _AppToCome:
    """The WSGI app, named once the local stack is up. The port is bound first, so that a `make run`
    that cannot serve stops before it starts anything or touches the running one's settings file;
    requests that arrive meanwhile wait in the listen backlog."""

    def __init__(self) -> None:
        self.app: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.app(environ, start_response)


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # the same clean stop as Ctrl-C


def main() -> None:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument(
        "--json-logs", action="store_true", help="print the JSON log lines and EMF metrics as Lambda does"
    )
    parser.add_argument(
        "--run-env", type=Path, default=Path(RUN_ENV_FILE), help="where to write the admin commands' settings"
    )
    args = parser.parse_args()
    # Before the handler is imported: powertools' logger keeps the stdout it finds at import.
    console, sys.stdout = sys.stdout, ConsoleLog(sys.stdout, json_logs=args.json_logs)
    try:
        serve(args.port, args.run_env)
    finally:
        sys.stdout = console


def serve(port: int, run_env: Path) -> None:
    app = _AppToCome()
    try:
        server = create_server(app, "127.0.0.1", port)
    except OSError as exc:
        raise SystemExit(
            f"modelgate: cannot serve on 127.0.0.1:{port} ({exc.strerror}); "
            f"try another port: PORT={port_to_suggest(port)} make run"
        ) from None
    try:
        with local_stack() as stack, admin_settings(run_env):
            block = startup_block(stack, os.environ, f"http://127.0.0.1:{port}")
            import handler  # after the stack has set the environment the handler reads

            app.app = handler.wsgi_app
            print("\n".join(block), flush=True)
            try:
                server.run()  # returns on Ctrl-C or SIGTERM (waitress stops its loop on KeyboardInterrupt)
            except KeyboardInterrupt:
                pass
            finally:
                print("\nmodelgate: stopping", flush=True)
    finally:
        server.close()


if __name__ == "__main__":
    main()

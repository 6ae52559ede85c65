"""`make run`: serve the gateway at http://127.0.0.1:3000 like `sam local start-api`, without Docker.

It is the HTTP server the streaming Function URL runs on AWS (lib/http_server.py, waitress), serving
`handler.wsgi_app`: each request becomes an API Gateway HTTP API (v2) event and goes through the
same core as `handler.api_handler`, and `stream: true` answers are written chunk by chunk. Requests
are handled one at a time, as one Lambda container does; others wait their turn.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lib.http_server import create_server
from local.stack import local_stack


@contextmanager
def serving(app: Any, port: int = 0) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 in a background thread; yields the base URL (tests, benchmarks)."""
    server = create_server(app, "127.0.0.1", port)
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
        server.task_dispatcher.shutdown()
        server.close()
        thread.join(timeout=5)


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # the same clean stop as Ctrl-C


def main() -> None:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    args = parser.parse_args()
    with local_stack():
        import handler  # after the stack has set the environment the handler reads

        try:
            server = create_server(handler.wsgi_app, "127.0.0.1", args.port)
        except OSError as exc:
            raise SystemExit(
                f"modelgate: cannot serve on 127.0.0.1:{args.port} ({exc.strerror}); "
                f"try another port: PORT={args.port + 1} make run"
            ) from None
        print(f"modelgate: serving http://127.0.0.1:{args.port} (Ctrl-C stops everything)", flush=True)
        try:
            server.run()  # returns on Ctrl-C or SIGTERM (waitress stops its own loop on KeyboardInterrupt)
        except KeyboardInterrupt:
            pass
        finally:
            print("\nmodelgate: stopping", flush=True)
            server.close()


if __name__ == "__main__":
    main()

"""`make run`: serve the Lambda handler at http://127.0.0.1:3000 like `sam local start-api`, without Docker.

Each HTTP request becomes an API Gateway HTTP API (v2) event and goes through `handler.api_handler`.
Requests are handled one at a time, as one Lambda container does.
"""

from __future__ import annotations

import argparse
import base64
import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local.events import LambdaContext, http_api_event
from local.stack import local_stack

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


def make_server(port: int, api_handler: Any) -> ThreadingHTTPServer:
    one_at_a_time = threading.Lock()

    class GatewayRequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            path, _, query = self.path.partition("?")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            event = http_api_event(
                self.command,
                path,
                body=body,
                headers=self.headers.items(),
                query=query,
                source_ip=self.client_address[0],
            )
            with one_at_a_time:
                response = api_handler(event, LambdaContext())
            self._write(response)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve

        def _write(self, response: dict[str, Any]) -> None:
            raw = response.get("body") or ""
            data = base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode("utf-8")
            self.send_response(int(response.get("statusCode", 200)))
            for name, value in (response.get("headers") or {}).items():
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, str(value))
            for name, values in (response.get("multiValueHeaders") or {}).items():
                for value in values:
                    self.send_header(name, str(value))
            for cookie in response.get("cookies") or []:
                self.send_header("Set-Cookie", cookie)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), GatewayRequestHandler)
    server.daemon_threads = True
    return server


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
            server = make_server(args.port, handler.api_handler)
        except OSError as exc:
            raise SystemExit(
                f"modelgate: cannot serve on 127.0.0.1:{args.port} ({exc.strerror}); "
                f"try another port: PORT={args.port + 1} make run"
            ) from None
        print(f"modelgate: serving http://127.0.0.1:{args.port} (Ctrl-C stops everything)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("\nmodelgate: stopping", flush=True)
        finally:
            server.server_close()


if __name__ == "__main__":
    main()

"""The embedded AWS for `make run`, `make invoke` and multi-process tests: a moto server on loopback."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import MutableMapping
from typing import Any

import boto3
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from local.template import table_definition

LOCAL_TABLE_NAME = "modelgate-local"
_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def serialized(app: Any) -> Any:
    """Apply one AWS request at a time.

    DynamoDB applies each conditional write atomically; moto's backend does not lock, so two
    concurrent UpdateItems could both pass a condition that only one may pass. The lock restores
    DynamoDB's guarantee, which the rate limiter (and its concurrency tests) rely on.
    """
    lock = threading.Lock()

    def locked(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with lock:
            return list(app(environ, start_response))

    return locked


class EmbeddedAws:
    """moto's server (as ThreadedMotoServer runs it) on a free loopback port, with serialized requests."""

    def __init__(self) -> None:
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.endpoint_url = ""

    def start(self) -> EmbeddedAws:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per AWS call would drown the output
        app = serialized(DomainDispatcherApplication(create_backend_app))
        self._server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="embedded-aws", daemon=True)
        self._thread.start()
        self.endpoint_url = f"http://127.0.0.1:{self._server.server_port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def point_environment(self, environ: MutableMapping[str, str] = os.environ) -> None:
        """Make every boto3 client (ours included) talk to this server, with placeholder credentials."""
        environ["AWS_ENDPOINT_URL"] = self.endpoint_url
        for name, value in _FAKE_CREDENTIALS.items():
            environ.setdefault(name, value)

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's placeholder
        )


def create_table(client: Any, table_name: str) -> None:
    """Create the gateway table as template.yaml defines it (no-op when it exists)."""
    existing = client.list_tables().get("TableNames", [])
    if table_name not in existing:
        client.create_table(TableName=table_name, **table_definition())

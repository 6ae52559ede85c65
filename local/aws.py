"""The embedded AWS for `make run`, `make invoke` and multi-process tests: a moto server on loopback."""

from __future__ import annotations

import logging
import os
from collections.abc import MutableMapping
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from local.template import table_definition

LOCAL_TABLE_NAME = "modelgate-local"
_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class EmbeddedAws:
    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint_url = ""

    def start(self) -> EmbeddedAws:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per AWS call would drown the output
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self._server.stop()

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

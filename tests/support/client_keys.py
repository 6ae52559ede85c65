"""A client key made as an operator makes one (`make keys-create`), for tests that need AUTH_MODE=keys."""

from __future__ import annotations

import io
from typing import Any

from lib.admin import cli as admin
from tests.conftest import TABLE_NAME


def new_client_key(dynamodb: Any, name: str = "sdk", *options: str) -> str:
    """The key the admin command printed once (`options`: --rpm, --burst, --daily-tokens)."""
    out = io.StringIO()
    command = ["--table", TABLE_NAME, "keys", "create", "--name", name, *options]
    assert admin.main(command, out=out, dynamodb_client=dynamodb) == 0, out.getvalue()
    return out.getvalue().split("key:")[1].split()[0]

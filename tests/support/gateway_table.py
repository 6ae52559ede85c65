"""The gateway table for tests, created from template.yaml's definition as deployed.

The definition is read once per process: parsing the 40 kB template took about a tenth of a second
per table (a third of a second on a loaded machine), and some 200 tests create one.
"""

from __future__ import annotations

import functools
from typing import Any

from local.template import table_definition


@functools.cache
def _definition() -> dict[str, Any]:
    return table_definition()


def create_gateway_table(client: Any, table_name: str) -> None:
    """CreateTable with the template's key schema and attributes (the table must not exist yet)."""
    client.create_table(TableName=table_name, **_definition())

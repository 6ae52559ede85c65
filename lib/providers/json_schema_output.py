"""Chat's `response_format`, read for providers whose structured output takes a JSON schema in their own
shape (Anthropic's `output_config.format`, Bedrock Converse's `outputConfig.textFormat`).

Only a schema can be sent to them: neither has a JSON mode without one (lib/providers/json_mode_tool.py
makes one of a tool call before this is read). The schema itself is sent as the caller wrote it; what
the provider's constrained decoding cannot take (recursive schemas, numeric bounds, ...) is its
refusal to make, and comes back as a 400.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from lib.platform.errors import InvalidRequest

FIELD = "response_format"
_SHAPE = 'must be {"type": "text"} or {"type": "json_schema", "json_schema": {"name": ..., "schema": {...}}}'


class JsonSchemaOutput(NamedTuple):
    """What the caller asked the answer's text to be: one JSON value that fits `schema`."""

    name: str
    schema: dict[str, Any]
    description: str | None


def requested(value: Any, refuse: Callable[[str, str], InvalidRequest]) -> JsonSchemaOutput | None:
    """The schema `response_format` asks for; None for plain text; `refuse(field, reason)` otherwise."""
    if value is None or value == {"type": "text"}:
        return None
    kind = value.get("type") if isinstance(value, dict) else None
    definition = value.get("json_schema") if kind == "json_schema" else None
    if not isinstance(definition, dict):
        raise refuse(FIELD, _SHAPE)
    name, schema, description = (
        definition.get("name"),
        definition.get("schema"),
        definition.get("description"),
    )
    if not isinstance(name, str) or not name or not isinstance(schema, dict):
        raise refuse(FIELD, _SHAPE)
    if description is not None and not isinstance(description, str):
        raise refuse(FIELD, "must have a string json_schema.description")
    return JsonSchemaOutput(name, schema, description or None)

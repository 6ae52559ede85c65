"""Which API's error shape a request is answered in, by its path (and headers, where two APIs share
a path). A caller format with its own shape registers one line in `FORMATS`; any other request gets
OpenAI's `{"error": {"message", "type", "code", "param"}}` (GatewayError.body)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from lib.apis import anthropic_messages_errors
from lib.platform.errors import GatewayError


class ErrorFormat(NamedTuple):
    speaks: Callable[[str, Mapping[str, str]], bool]  # (path, headers) -> whether the request is this API's
    body: Callable[[GatewayError], dict[str, Any]]


FORMATS: tuple[ErrorFormat, ...] = (
    ErrorFormat(anthropic_messages_errors.speaks_messages_api, anthropic_messages_errors.error_body),
)


def error_body(error: GatewayError, path: str, headers: Mapping[str, str]) -> dict[str, Any]:
    for error_format in FORMATS:
        if error_format.speaks(path, headers):
            return error_format.body(error)
    return error.body()

"""The request body: decoded, size-capped, parsed, and made safe to send on, or a 4xx that says why.

JSON that Python parses can still fail us later, after the caller is charged or the upstream called:
`NaN` and `Infinity` (and numbers like `1e999` that overflow to infinity) are not JSON, so a provider
refuses them; a value nested almost to the parser's limit makes re-serialising it hit Python's
recursion limit; a lone surrogate (`"\\ud800"`) cannot be encoded as UTF-8, so neither a log line nor
a reply holding it can be written. All of these are refused here, before anything else happens.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

from lib.platform.errors import InvalidRequest, PayloadTooLarge

# Deep enough for any real tool schema (a few levels of properties/items), far below the parser's ~1000.
MAX_JSON_DEPTH = 64


class _NotJsonNumber(ValueError):
    pass


def parse_json_body(
    raw_body: str | None, is_base64: bool, max_bytes: int, *, declared_bytes: str | None = None
) -> dict[str, Any]:
    """Decode the event body (base64 or not), enforce the size cap, and parse a JSON object.

    `declared_bytes` is the request's Content-Length: a body declared larger than the cap is refused
    before anything else, with or without the body (the HTTP server does not read such a body, and
    hands the request on without it: lib/http/waitress_limits.py)."""
    if _declared_too_large(declared_bytes, max_bytes):
        raise PayloadTooLarge(f"the request body is larger than {max_bytes} bytes")
    if not raw_body:
        raise InvalidRequest("the request body is empty; send a JSON object", code="missing_body")
    # Cheap pre-check before decoding: a base64 body is 4/3 of its bytes, a str at most 4 bytes a char.
    if len(raw_body) > max_bytes * 4:
        raise PayloadTooLarge(f"the request body is larger than {max_bytes} bytes")
    if is_base64:
        try:
            data = base64.b64decode(raw_body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest("the request body is not valid base64", code="invalid_body") from None
    else:
        data = raw_body.encode("utf-8", errors="surrogatepass")
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"the request body is larger than {max_bytes} bytes")
    try:
        parsed = json.loads(data, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise InvalidRequest("the request body is nested too deeply", code="invalid_json") from None
    except _NotJsonNumber as exc:
        raise InvalidRequest(str(exc), code="invalid_json") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest(
            f"the request body is not valid JSON ({_short(exc)})", code="invalid_json"
        ) from None
    if not isinstance(parsed, dict):
        raise InvalidRequest("the request body must be a JSON object", code="invalid_json")
    _check_values(parsed)
    return parsed


def _declared_too_large(declared: str | None, max_bytes: int) -> bool:
    text = (declared or "").strip()
    # (past 18 digits it is larger than any cap, and int() of thousands of digits would raise)
    return text.isascii() and text.isdigit() and (len(text) > 18 or int(text) > max_bytes)


def _refuse_constant(name: str) -> Any:
    raise _NotJsonNumber(f"{name} is not a JSON number; send a finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJsonNumber(f"the number {text[:20]} is too large; send a finite number")
    return value


def _check_values(body: dict[str, Any]) -> None:
    """Depth and encodable strings, walked without recursion (the depth is what is being checked)."""
    for field, value in body.items():
        _check_string(field, field)
        stack: list[tuple[Any, int]] = [(value, 1)]
        while stack:
            item, depth = stack.pop()
            if isinstance(item, str):
                _check_string(item, field)
            elif isinstance(item, dict | list):
                if depth >= MAX_JSON_DEPTH:
                    raise InvalidRequest(
                        f"{field[:64]} is nested more than {MAX_JSON_DEPTH} levels deep",
                        param=field,
                        code="invalid_json",
                    )
                if isinstance(item, dict):
                    stack.extend((key, depth) for key in item)
                    stack.extend((child, depth + 1) for child in item.values())
                else:
                    stack.extend((child, depth + 1) for child in item)


def _check_string(text: str, field: str) -> None:
    if _encodable(text):
        return
    # The field name goes into the error only when it can itself be written.
    name = field[:64] if _encodable(field) else "a field name"
    raise InvalidRequest(
        f"{name} holds a lone surrogate (an unpaired \\ud800-\\udfff escape), which is not text",
        param=name if name == field else None,
        code="invalid_json",
    )


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _short(exc: Exception) -> str:
    return str(exc).split(":")[0][:80]

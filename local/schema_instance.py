"""A JSON value valid for a JSON schema, the same every time: the built-in model's tool-call arguments
and structured output.

Enough of JSON Schema for what clients send (OpenAI's strict schemas, pydantic's, LangChain's): `type`
(one or a list), `properties` (every property is filled, required or not), `items` and `prefixItems`,
`minItems`/`maxItems`, `uniqueItems`, `enum`, `const`, string `minLength`/`maxLength` and the common
`format`s, number bounds (inclusive and exclusive) and `multipleOf`, `$ref` into the same document,
`anyOf`/`oneOf` (the first choice that is not null), `allOf` (merged), and a `pattern` simple
enough for one of a few tries (digits, letters). Not `not`, `if`, `dependentSchemas`.
Strings are the prompt's first words, so a reply shows what it was asked.
"""

from __future__ import annotations

import math
import re
from typing import Any

from local.tokens import pieces

# How deep a recursive schema (a tree of itself) is followed before it is closed with the least it
# allows: null where a choice allows it, no optional items.
MAX_DEPTH = 6
HINT_TOKENS = 6
_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "hostname": "example.com",
    "duration": "P1D",
}
# What a string with a `pattern` tries when the prompt's words do not match it: simple patterns (digits,
# letters, a code) match one of these; others are not satisfied.
_PATTERN_TRIES = ("1", "a", "A", "abc", "ABC", "123", "a1", "A1", "abc123", "12345", "example")


def instance(schema: Any, prompt: str = "") -> Any:
    """A value valid for `schema`; strings carry the first words of `prompt`."""
    hint = "".join(pieces(prompt.strip())[:HINT_TOKENS]).strip()
    return _Generator(schema, hint).value(schema, 0, 0)


class _Generator:
    def __init__(self, root: Any, hint: str) -> None:
        self._root = root
        self._hint = hint

    def value(self, schema: Any, depth: int, variant: int) -> Any:
        """`variant` > 0 asks for another value than variant 0 (items of a `uniqueItems` array)."""
        if depth > 4 * MAX_DEPTH:
            return None  # references that only lead to each other (`{"$ref": "#"}`): nothing to make
        if not isinstance(schema, dict):
            return self._string({}, variant)  # true, or no schema: any value will do
        if isinstance(schema.get("$ref"), str):
            return self.value(self._resolve(schema["$ref"]), depth + 1, variant)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][variant % len(schema["enum"])]
        if isinstance(schema.get("allOf"), list):
            return self.value(_merged(schema), depth, variant)
        for keyword in ("anyOf", "oneOf"):
            if isinstance(schema.get(keyword), list) and schema[keyword]:
                return self.value(self._choice(schema[keyword], depth), depth + 1, variant)
        kind = _kind(schema, prefer_null=depth >= MAX_DEPTH)
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, depth)
        if kind in ("integer", "number"):
            return _number(schema, kind == "integer", variant)
        if kind == "boolean":
            return variant % 2 == 0
        if kind == "null":
            return None
        return self._string(schema, variant)

    def _resolve(self, reference: str) -> Any:
        """A `#/...` pointer into the document the schema came in (`#/$defs/Name`, `#/definitions/...`)."""
        target = self._root
        for part in reference.removeprefix("#").split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return target

    def _choice(self, options: list[Any], depth: int) -> Any:
        nullable = [option for option in options if isinstance(option, dict) and option.get("type") == "null"]
        others = [option for option in options if option not in nullable]
        if depth >= MAX_DEPTH and nullable:
            return nullable[0]
        return (others or options)[0]

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        properties: dict[str, Any] = (
            schema["properties"] if isinstance(schema.get("properties"), dict) else {}
        )
        required = set(schema.get("required") or [])
        shown = properties if depth < MAX_DEPTH else {n: s for n, s in properties.items() if n in required}
        return {name: self.value(sub, depth + 1, 0) for name, sub in shown.items()}

    def _array(self, schema: dict[str, Any], depth: int) -> list[Any]:
        low, high = _at_least(schema.get("minItems")), _at_most(schema.get("maxItems"))
        prefix: list[Any] = schema["prefixItems"] if isinstance(schema.get("prefixItems"), list) else []
        length = max(low, len(prefix), 0 if depth >= MAX_DEPTH else 1)
        if high is not None:
            length = min(length, high)
        items = schema.get("items", {})
        variants = schema.get("uniqueItems") is True
        return [
            self.value(prefix[index] if index < len(prefix) else items, depth + 1, index if variants else 0)
            for index in range(length)
        ]

    def _string(self, schema: dict[str, Any], variant: int) -> str:
        text = _FORMATS.get(str(schema.get("format")), self._hint or "text")
        if variant:
            text = f"{text} {variant + 1}"
        low, high = _at_least(schema.get("minLength")), _at_most(schema.get("maxLength"))
        if len(text) < low:
            text += "x" * (low - len(text))
        if high is not None and len(text) > high:
            text = text[:high]
        pattern = schema.get("pattern")
        if isinstance(pattern, str) and not _matches(pattern, text):
            return next((c for c in _PATTERN_TRIES if _matches(pattern, c) and low <= len(c)), text)
        return text


def _matches(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None  # JSON Schema's patterns are not anchored
    except re.error:
        return True  # a pattern Python cannot read: nothing better to offer


def _kind(schema: dict[str, Any], prefer_null: bool) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        if prefer_null and "null" in kind:
            return "null"
        kind = next((item for item in kind if item != "null"), kind[0] if kind else None)
    if isinstance(kind, str):
        return kind
    if prefer_null and schema.get("nullable") is True:
        return "null"
    if "properties" in schema or "required" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    return "string"


def _merged(schema: dict[str, Any]) -> dict[str, Any]:
    """`allOf`'s parts as one schema: their properties and requirements together, the rest of the last."""
    merged: dict[str, Any] = {key: value for key, value in schema.items() if key != "allOf"}
    properties: dict[str, Any] = dict(merged.get("properties") or {})
    required: list[Any] = list(merged.get("required") or [])
    for part in schema["allOf"]:
        if isinstance(part, dict):
            properties.update(part.get("properties") or {})
            required += part.get("required") or []
            merged.update(
                {key: value for key, value in part.items() if key not in ("properties", "required")}
            )
    if properties:
        merged["properties"] = properties
        merged["required"] = required
    return merged


def _at_least(value: Any) -> int:
    """A lower bound on a count (`minItems`, `minLength`): 0 unless a whole number says more."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _at_most(value: Any) -> int | None:
    """An upper bound on a count (`maxItems`, `maxLength`): None unless a whole number."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _number(schema: dict[str, Any], integer: bool, variant: int) -> int | float:
    """1 + variant, moved inside the bounds, then onto a multiple of `multipleOf` within them."""
    low, high = _bounds(schema, integer)
    value = float(1 + variant)
    if low is not None:
        value = max(value, low)
    if high is not None:
        value = min(value, high)
    step = schema.get("multipleOf")
    if (
        isinstance(step, int | float)
        and not isinstance(step, bool)
        and step > 0
        and math.isfinite(value / step)
    ):
        multiples = [math.ceil(value / step) * step, math.floor(value / step) * step]
        inside = [m for m in multiples if (low is None or m >= low) and (high is None or m <= high)]
        value = (inside or multiples)[0]
    return int(value) if integer else value


def _bounds(schema: dict[str, Any], integer: bool) -> tuple[float | None, float | None]:
    """The inclusive bounds; an exclusive one is moved inward (by 1 for an integer, else by at most 1)."""
    low, high = _numeric(schema.get("minimum")), _numeric(schema.get("maximum"))
    above, below = _numeric(schema.get("exclusiveMinimum")), _numeric(schema.get("exclusiveMaximum"))
    if integer:
        lows = [math.ceil(x) for x in (low,) if x is not None] + [
            math.floor(x) + 1 for x in (above,) if x is not None
        ]
        highs = [math.floor(x) for x in (high,) if x is not None] + [
            math.ceil(x) - 1 for x in (below,) if x is not None
        ]
        return (max(lows) if lows else None), (min(highs) if highs else None)
    if above is not None:
        top = high if high is not None else below
        step = min(1.0, (top - above) / 2) if top is not None else 1.0
        low = max(low, above + step) if low is not None else above + step
    if below is not None:
        bottom = low if low is not None else above
        step = min(1.0, (below - bottom) / 2) if bottom is not None else 1.0
        high = min(high, below - step) if high is not None else below - step
    return low, high


def _numeric(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

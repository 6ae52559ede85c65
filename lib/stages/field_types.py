"""The types OpenAI documents for request fields the gateway passes through to the provider.

A provider answers a field of the wrong type with a 400, which the gateway could only report as an
upstream failure (a 502 that counts toward the upstream alarms): such a field is the caller's 400
here, before anything is spent. Fields not listed pass through as they are, so newer parameters
keep working; `null` passes too (OpenAI reads it as absent).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lib.platform.errors import InvalidRequest


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _strings(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(item, str) for item in value)
    )


_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "stop": (_strings, "a string or an array of strings"),
    "suffix": (lambda value: isinstance(value, str), "a string"),
    "user": (lambda value: isinstance(value, str), "a string"),
    "tools": (
        lambda value: isinstance(value, list) and all(isinstance(tool, dict) for tool in value),
        "an array of objects",
    ),
    "tool_choice": (lambda value: isinstance(value, str | dict), "a string or an object"),
    "response_format": (lambda value: isinstance(value, dict), "an object"),
    "logit_bias": (
        lambda value: isinstance(value, dict) and all(_number(bias) for bias in value.values()),
        "an object of numbers",
    ),
    "top_p": (_number, "a number"),
    "frequency_penalty": (_number, "a number"),
    "presence_penalty": (_number, "a number"),
    "parallel_tool_calls": (lambda value: isinstance(value, bool), "true or false"),
}


def check_field_types(fields: Mapping[str, Any]) -> None:
    """Raise a 400 naming the first passed-through field whose type OpenAI's API would refuse."""
    for name, value in fields.items():
        rule = _RULES.get(name)
        if rule is not None and value is not None and not rule[0](value):
            raise InvalidRequest(f"{name} must be {rule[1]}", param=name)

"""Hypothesis strategies for what a hostile caller can put in an API Gateway v2 event.

Every field of every type, unicode edge cases (lone surrogates, zero-width and combining marks,
NUL, BOM), deep nesting up to and past the parser's limit, huge numbers and strings, and the
fields the gateway passes through to the provider (tools, response_format, stop, suffix, ...).
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from hypothesis import strategies as st

from lib.http import messages_routes  # noqa: F401  (its routes join ALLOWED_METHODS)
from lib.http.routes import ALLOWED_METHODS
from local.events import http_api_event

# Characters that have broken text handling somewhere: controls, NUL, BOM, zero-width and joining
# characters, soft hyphen, ideographic space, combining marks, RTL override, a lone surrogate of
# each kind, astral characters, and the default blocklist's words.
_EDGE_CHARACTERS = st.sampled_from(
    [
        "\x00", "\x1b", "\x7f", "\ufeff", "\u200b", "\u200d", "\u00ad", "\u3000", "\u0301", "\u202e",
        "\ud800", "\udfff", "\U0001f600", "\U0010ffff", "\\", '"', "\n", "密", "码",
    ]
)  # fmt: skip
_WORDS = st.sampled_from(
    ["密码", "验证码", "银行卡", "password", "PASSWORD", "Hello", "null", "NaN", "{}", "[]"]
)
text = st.one_of(
    st.text(st.one_of(st.characters(), st.characters(categories=["Cs"]), _EDGE_CHARACTERS), max_size=40),
    _WORDS,
    st.builds(lambda word, edge: edge.join(word), _WORDS, _EDGE_CHARACTERS),
)
# What API Gateway can put in headers and paths: any text but lone surrogates (it decodes bytes).
wire_text = st.text(st.one_of(st.characters(exclude_categories=["Cs"]), _EDGE_CHARACTERS), max_size=40).map(
    lambda value: value.encode("utf-8", "replace").decode("utf-8", "replace")
)
# Long runs: past MAX_PROMPT_CHARS (2048), past MAX_BODY_BYTES once encoded (64 KiB in the fuzz tests).
huge_text = st.builds(
    lambda char, count: char * count,
    st.sampled_from(["a", "密", "\U0001f600", "\ud800", " ", "\\"]),
    st.sampled_from([2048, 2049, 20_000, 70_000]),
)
numbers = st.one_of(
    st.integers(),
    st.sampled_from([0, -1, 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-320, 1e308, 0.1, 0.9, 2.0]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, text)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=12,
)

# A value replaced, once the body is encoded, by JSON nested `depth` levels deep: built as text, so
# that depths past Python's recursion limit can be sent at all.
_DEEP = "\x01deep:"


def deep(depth: int) -> str:
    return f"{_DEEP}{depth}"


deeply_nested = (st.integers(900, 1_000) | st.sampled_from([50, 500, 5_000, 40_000])).map(deep)
hostile_values = st.one_of(json_values, huge_text, deeply_nested)

_MESSAGE_ROLES = ["system", "developer", "user", "assistant", "tool", "function"]
content_parts = st.lists(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["text", "image_url", "input_audio"]) | text},
        optional={"text": text | hostile_values, "image_url": hostile_values},
    ),
    max_size=3,
)
tool_calls = st.lists(
    st.fixed_dictionaries(
        {
            "id": text,
            "type": st.just("function"),
            "function": st.fixed_dictionaries({"name": text, "arguments": text | hostile_values}),
        }
    ),
    max_size=2,
)
messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(_MESSAGE_ROLES) | hostile_values},
        optional={
            "content": text | content_parts | hostile_values,
            "name": text | hostile_values,
            "tool_calls": tool_calls | hostile_values,
            "tool_call_id": text,
        },
    ),
    min_size=1,
    max_size=4,
)
tools = st.lists(
    st.fixed_dictionaries(
        {
            "type": st.just("function"),
            "function": st.fixed_dictionaries(
                {"name": text},
                optional={"description": text | huge_text, "parameters": json_values | deeply_nested},
            ),
        }
    ),
    max_size=3,
)
_PLAUSIBLE = {
    "model": st.sampled_from(["test-model", "", "\ud800", "a" * 257]) | text,
    "prompt": text | st.lists(text, max_size=2) | huge_text,
    "messages": messages,
    "requests": st.lists(hostile_values, max_size=3) | hostile_values,
    "max_tokens": st.integers(-2, 5000),
    "max_completion_tokens": st.integers(-2, 5000),
    "temperature": st.floats(-1, 3) | st.sampled_from([0.1, 0.5, 0.9]),
    "seed": st.integers(),
    "stream": st.booleans(),
    "stream_options": st.fixed_dictionaries({}, optional={"include_usage": st.booleans() | scalars}),
    "n": st.integers(-1, 3),
    "best_of": st.integers(-1, 30),
    "domain": text,
    "tools": tools,
    "tool_choice": st.sampled_from(["auto", "none", "required"]) | json_values,
    "response_format": st.fixed_dictionaries(
        {"type": st.sampled_from(["text", "json_object", "json_schema"])},
        optional={"json_schema": json_values | deeply_nested},
    ),
    "stop": text | st.lists(text, max_size=4),
    "suffix": text | huge_text,
    "logit_bias": st.dictionaries(text, numbers, max_size=3),
    "user": text,
    "top_p": numbers,
}
_FIELDS = sorted(_PLAUSIBLE)


# Ordinary text, so that a body gets past the prompt rules and its other fields reach the upstream.
plain_text = st.text(st.sampled_from("abcXYZ 0123,.?é中"), min_size=1, max_size=30).filter(str.strip)
_GENERATE_CORE = st.fixed_dictionaries({"prompt": plain_text})
_VALID_CORES = {
    "/api/generate": _GENERATE_CORE,
    "/api/generate/batch": st.fixed_dictionaries(
        {"requests": st.lists(_GENERATE_CORE | st.dictionaries(text, hostile_values, max_size=3), max_size=3)}
    ),
    "/v1/completions": st.fixed_dictionaries({"prompt": plain_text}),
    "/v1/chat/completions": st.fixed_dictionaries(
        {
            "messages": st.lists(
                st.fixed_dictionaries(
                    {"role": st.sampled_from(["system", "user", "assistant"]), "content": plain_text}
                ),
                min_size=1,
                max_size=2,
            )
        }
    ),
    "/v1/messages": st.fixed_dictionaries(
        {
            "max_tokens": st.integers(1, 64),
            "messages": st.lists(
                st.fixed_dictionaries(
                    {"role": st.sampled_from(["user", "assistant"]), "content": plain_text}
                ),
                min_size=1,
                max_size=2,
            ),
        }
    ),
}


@st.composite
def bodies(draw: st.DrawFn, path: str) -> dict[str, Any]:
    """A JSON object for the route: mostly a valid core (so the rest reaches the upstream) plus fields
    that are plausible, hostile or of the wrong type; sometimes a hostile core."""
    body: dict[str, Any] = {}
    core = _VALID_CORES.get(path)
    if core is not None and draw(st.integers(0, 4)) > 0:
        body.update(draw(core))
    elif core is not None:
        required = {
            "/v1/chat/completions": "messages",
            "/v1/messages": "messages",
            "/api/generate/batch": "requests",
        }.get(path, "prompt")
        if draw(st.booleans()):
            body[required] = draw(_PLAUSIBLE[required] | hostile_values)
    for name in draw(st.lists(st.sampled_from(_FIELDS), max_size=4, unique=True)):
        if name not in body or draw(st.booleans()):
            body[name] = draw(_PLAUSIBLE[name] | hostile_values)
    body.update(draw(st.dictionaries(text, hostile_values, max_size=2)))
    return body


def encode(body: Any) -> bytes:
    """JSON as a lax client writes it (NaN, Infinity and lone surrogates allowed), deep values spliced in."""
    encoded = json.dumps(body, allow_nan=True)

    def nested(match: re.Match[str]) -> str:
        depth = int(match.group(1))
        return "[" * depth + "1" + "]" * depth

    encoded = re.sub(r'"\\u0001deep:(\d+)"', nested, encoded)
    return encoded.encode("utf-8", errors="surrogatepass")


def route_templates() -> list[tuple[str, str]]:
    return sorted((method, path) for path, methods in ALLOWED_METHODS.items() for method in methods)


@st.composite
def paths(draw: st.DrawFn) -> tuple[str, str]:
    """A real route (its path parameters filled with hostile text), or any method on any path."""
    choice = draw(st.integers(0, 9))
    if choice > 0:
        routes = route_templates()
        if choice > 3:  # mostly the routes that take a body and call the model
            routes = [route for route in routes if route[0] == "POST"] or routes
        method, template = draw(st.sampled_from(routes))
        path = re.sub(r"<\w+>", lambda _: draw(wire_text.filter(lambda value: "/" not in value)), template)
        return method, path
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]))
    return method, "/" + draw(wire_text)


@st.composite
def events(draw: st.DrawFn, client_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """An API Gateway HTTP API (v2) event as API Gateway builds it, with hostile content."""
    method, path = draw(paths())
    body_kind = draw(st.sampled_from(["json"] * 6 + ["value", "raw", "none"]))
    raw: bytes | None
    if body_kind == "json":
        raw = encode(draw(bodies(path)))
    elif body_kind == "value":
        raw = encode(draw(hostile_values))
    elif body_kind == "raw":
        raw = draw(st.binary(max_size=64) | text.map(lambda value: value.encode("utf-8", "surrogatepass")))
    else:
        raw = None
    header_values = wire_text.filter(lambda value: "\n" not in value)
    header_names = st.sampled_from(["x-custom", "accept", "user-agent", "cache-control"]) | wire_text
    headers = draw(st.dictionaries(header_names, header_values, max_size=3))
    headers["content-type"] = draw(st.sampled_from(["application/json", "text/plain", ""]) | header_values)
    credential = draw(st.sampled_from([None, "random", *client_keys]))
    if credential == "random":
        headers[draw(st.sampled_from(["authorization", "x-api-key"]))] = draw(header_values)
    elif credential is not None:
        headers["authorization"] = f"Bearer {credential}"
    event = http_api_event(method, path, body=raw, headers=headers.items())
    if raw and draw(st.booleans()):  # API Gateway base64-encodes bodies it does not treat as text
        event["body"] = base64.b64encode(raw).decode() if draw(st.integers(0, 9)) else draw(text)
        event["isBase64Encoded"] = True
    return event

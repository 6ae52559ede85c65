"""OpenAI's embeddings (`POST /v1/embeddings`): the request as a validated `ModelRequest` of kind
"embeddings" (or a 400 naming the parameter), and the neutral answer back as OpenAI's reply.

Each input is one text: MAX_PROMPT_CHARS bounds each, MAX_INPUT_CHARS all of them together, and the
blocklist reads them all, as for chat. Token arrays are refused: the gateway's limits count text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lib.core.answer import Usage
from lib.core.request import ModelRequest
from lib.platform.config import Settings
from lib.platform.errors import InvalidRequest
from lib.stages.text_rules import check_input, field_strings
from lib.stages.validation import check_prompt, is_int, passed_through, read_model

# OpenAI's own limit on the inputs of one request.
MAX_INPUTS = 2048
_ENCODING_FORMATS = ("float", "base64")
# The inputs and the model are the request itself; every other field is passed through to the provider.
_OWN_FIELDS = ("input", "model")


def parse_embeddings(body: Mapping[str, Any], settings: Settings) -> ModelRequest:
    inputs = _inputs(body.get("input"))
    for number, text in enumerate(inputs):
        check_prompt(text, settings, "input" if isinstance(body["input"], str) else f"input[{number}]")
    dimensions = body.get("dimensions")
    if dimensions is not None and (not is_int(dimensions) or not 1 <= dimensions <= 65_536):
        raise InvalidRequest("dimensions must be a whole number from 1 to 65536", param="dimensions")
    encoding = body.get("encoding_format")
    if encoding is not None and encoding not in _ENCODING_FORMATS:
        raise InvalidRequest('encoding_format must be "float" or "base64"', param="encoding_format")
    extra = passed_through({name: value for name, value in body.items() if name not in _OWN_FIELDS})
    input_chars = check_input({"input": inputs, **field_strings(extra)}, settings)
    return ModelRequest(
        kind="embeddings",
        model=read_model(body, settings),
        max_tokens=0,  # an embedding writes no tokens: the budget reserves the input alone
        prompt="\n".join(inputs),
        prompt_chars=sum(len(text) for text in inputs),
        input_chars=input_chars,
        extra={"input": body["input"], **extra},
    )


def _inputs(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        if len(value) > MAX_INPUTS:
            raise InvalidRequest(f"input holds {len(value)} texts; the limit is {MAX_INPUTS}", param="input")
        return value
    raise InvalidRequest(
        "input must be a string or a non-empty array of strings (token arrays are not taken: "
        "the gateway's limits count text)",
        param="input",
        code="missing_prompt" if value in (None, "", []) else "invalid_value",
    )


def embeddings_reply(body: Mapping[str, Any], request: ModelRequest, usage: Usage) -> dict[str, Any]:
    """OpenAI's list of embeddings, built from its documented fields (as chat replies are), with the
    usage the gateway settled."""
    data = body.get("data")
    entries = [
        {"object": "embedding", "index": item.get("index", number), "embedding": item.get("embedding")}
        for number, item in enumerate(data if isinstance(data, list) else [])
        if isinstance(item, dict)
    ]
    model = body.get("model")
    return {
        "object": "list",
        "data": entries,
        "model": model if isinstance(model, str) else request.model,
        "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.total_tokens},
    }

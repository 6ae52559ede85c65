"""Embeddings through Bedrock's InvokeModel, whose body is each model family's own: Amazon Titan Text
Embeddings (V2, V1: one text per call) and Cohere Embed (v3, v4: up to 96 texts per call). The
answers become the neutral (OpenAI-shaped) one; `encoding_format: "base64"` is written here, as OpenAI
writes it (little-endian float32), since Bedrock answers floats.

What a model cannot take (`dimensions` it has no size for, a field with no equivalent) is a 400 naming
the field and the route, before Bedrock is asked.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from lib.core.request import ModelRequest
from lib.platform.errors import InvalidRequest, NotConfigured, UpstreamError
from lib.platform.route_table import Route

# Fields of OpenAI's embeddings request besides `input`; `user` changes nothing in the answer.
_FIELDS = frozenset({"dimensions", "encoding_format", "user"})
_COHERE_BATCH = 96  # Cohere Embed's limit on the texts of one call
# Bedrock's count of the input tokens, for models whose body has none (Cohere).
_INPUT_COUNT_HEADER = "x-amzn-bedrock-input-token-count"


class Family(NamedTuple):
    marker: str  # in the model id (or inference profile, or ARN) of every model of the family
    dimensions: tuple[int, ...]  # the sizes it can answer in (none: only its own)
    batch: int  # texts per call
    fields: frozenset[str] = frozenset()  # request fields of its own the caller may pass


_FAMILIES = (
    Family("amazon.titan-embed-text-v2", (256, 512, 1024), 1),
    Family("amazon.titan-embed-text-v1", (), 1),
    Family("cohere.embed-v4", (256, 512, 1024, 1536), _COHERE_BATCH, frozenset({"input_type"})),
    Family("cohere.embed-", (), _COHERE_BATCH, frozenset({"input_type"})),
)


class Reading(NamedTuple):
    """One InvokeModel answer: its JSON body, and Bedrock's input token count from its headers."""

    body: Mapping[str, Any]
    input_tokens: int | None


def family_of(route: Route) -> Family:
    model = route.model or ""
    for family in _FAMILIES:
        if family.marker in model:
            return family
    raise NotConfigured(
        f"route {route.name!r}: Bedrock model {model!r} is not an embeddings model the gateway speaks "
        "(Amazon Titan Text Embeddings, Cohere Embed)"
    )


def bodies(request: ModelRequest, route: Route) -> list[dict[str, Any]]:
    """The InvokeModel bodies for the request's inputs, in order; InvalidRequest for what the route's
    model cannot take."""
    family = family_of(route)
    extra = request.extra
    for field in extra:
        if field != "input" and field not in _FIELDS and field not in family.fields:
            raise _refusal(route, field, "the model has no equivalent")
    dimensions = extra.get("dimensions")
    if dimensions is not None and dimensions not in family.dimensions:
        sizes = ", ".join(map(str, family.dimensions)) or "none but its own"
        raise _refusal(route, "dimensions", f"the model answers in these sizes: {sizes}")
    texts = [extra["input"]] if isinstance(extra["input"], str) else list(extra["input"])
    if family.marker.startswith("amazon.titan"):
        options: dict[str, Any] = {"dimensions": dimensions, "normalize": True} if dimensions else {}
        return [{"inputText": text, **options} for text in texts]
    options = {"input_type": extra.get("input_type") or "search_document"}
    if dimensions:
        options["output_dimension"] = dimensions
    return [
        {"texts": texts[start : start + family.batch], **options, "embedding_types": ["float"]}
        for start in range(0, len(texts), family.batch)
    ]


def read(response: Mapping[str, Any]) -> Reading:
    """botocore's InvokeModel response, its body read whole (within the client's read timeout)."""
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    count = headers.get(_INPUT_COUNT_HEADER)
    try:
        body = json.loads(response["body"].read())
    except ValueError:
        raise UpstreamError("Bedrock answered an embeddings call with a body that is not JSON") from None
    if not isinstance(body, dict):
        raise UpstreamError("Bedrock answered an embeddings call with a body that is not an object")
    return Reading(
        body, int(count) if isinstance(count, str) and count.isascii() and count.isdigit() else None
    )


def answer(readings: list[Reading], request: ModelRequest, route: Route) -> dict[str, Any]:
    """The answers of `bodies`' calls as one OpenAI-shaped list of embeddings, with usage when every
    call reported its tokens."""
    vectors = [vector for reading in readings for vector in _vectors(reading.body, route)]
    as_base64 = request.extra.get("encoding_format") == "base64"
    body: dict[str, Any] = {
        "object": "list",
        "data": [
            {"object": "embedding", "index": index, "embedding": _base64(vector) if as_base64 else vector}
            for index, vector in enumerate(vectors)
        ],
        "model": route.name,
    }
    counts = [_input_tokens(reading) for reading in readings]
    if all(count is not None for count in counts):
        tokens = sum(count or 0 for count in counts)
        body["usage"] = {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens}
    return body


def _vectors(body: Mapping[str, Any], route: Route) -> Iterator[list[float]]:
    """Titan's `embedding`, or Cohere's `embeddings` (a list, or by type: {"float": [...]})."""
    if "embedding" in body:
        found: Any = [body["embedding"]]
    else:
        found = body.get("embeddings")
        if isinstance(found, dict):
            found = found.get("float")
    if not isinstance(found, list) or not all(
        isinstance(vector, list) and all(_is_number(value) for value in vector) for vector in found
    ):
        raise UpstreamError(f"Bedrock answered route {route.name!r} without the embeddings it asked for")
    yield from found


def _input_tokens(reading: Reading) -> int | None:
    count = reading.body.get("inputTextTokenCount")
    if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
        return count
    return reading.input_tokens


def _base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _refusal(route: Route, field: str, reason: str) -> InvalidRequest:
    return InvalidRequest(
        f"{field} cannot be sent to route {route.name!r} (Bedrock embeddings): {reason}",
        param=field,
        code="unsupported_parameter",
    )

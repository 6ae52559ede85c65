"""The built-in model's embeddings, in OpenAI's shape: deterministic, normalized vectors derived from
the text, so that texts sharing words lie close together (enough to try search or RAG with no key).

Each token (local/tokens.py, lower-cased) has a fixed pseudo-random direction (SHAKE-256 of the token);
a text's vector is the sum of its tokens' directions, normalized. A shorter `dimensions` is the start
of the full vector, normalized again, as OpenAI's text-embedding-3 models shorten theirs.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from functools import lru_cache
from typing import Any

from local.answers import BadRequest
from local.tokens import tokenize

DEFAULT_DIMENSIONS = 384
MAX_DIMENSIONS = 3072
MAX_INPUTS = 2048


def embeddings_reply(body: dict[str, Any], model: str) -> dict[str, Any]:
    texts = _inputs(body.get("input"))
    dimensions = body.get("dimensions", DEFAULT_DIMENSIONS)
    if (
        not isinstance(dimensions, int)
        or isinstance(dimensions, bool)
        or not 1 <= dimensions <= MAX_DIMENSIONS
    ):
        raise BadRequest(f"dimensions must be a whole number from 1 to {MAX_DIMENSIONS}", "dimensions")
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise BadRequest("encoding_format must be float or base64", "encoding_format")
    data = []
    read = 0
    for index, tokens in enumerate(texts):
        read += len(tokens)
        vector = vector_of(tuple(tokens), dimensions)
        shown: Any = (
            base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
            if encoding == "base64"
            else vector
        )
        data.append({"object": "embedding", "index": index, "embedding": shown})
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": read, "total_tokens": read},
    }


def _inputs(value: Any) -> list[list[str]]:
    """Each input's tokens: a string, strings, an array of token ids or arrays of them (as OpenAI takes)."""
    if isinstance(value, str) or (isinstance(value, list) and value and all(_is_token_id(v) for v in value)):
        value = [value]
    if not isinstance(value, list) or not value:
        raise BadRequest("input must be a string or a non-empty array of strings", "input")
    if len(value) > MAX_INPUTS:
        raise BadRequest(f"input holds {len(value)} items; at most {MAX_INPUTS}", "input")
    texts = []
    for item in value:
        if isinstance(item, str) and item.strip():
            texts.append([token.lower() for token in tokenize(item)] or [item])
        elif isinstance(item, list) and item and all(_is_token_id(v) for v in item):
            texts.append([f"#{token_id}" for token_id in item])
        else:
            raise BadRequest("each input must be a non-empty string (or an array of token ids)", "input")
    return texts


def _is_token_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def vector_of(tokens: tuple[str, ...], dimensions: int) -> list[float]:
    total = [0.0] * dimensions
    for token in tokens:
        for position, value in enumerate(_direction(token, dimensions)):
            total[position] += value
    norm = math.sqrt(sum(value * value for value in total)) or 1.0
    return [value / norm for value in total]


@lru_cache(maxsize=4096)
def _direction(token: str, dimensions: int) -> tuple[float, ...]:
    raw = hashlib.shake_256(token.encode()).digest(2 * dimensions)
    return tuple(value / 32768 for value in struct.unpack(f"<{dimensions}h", raw))

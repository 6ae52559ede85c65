"""The embeddings API's body and reply for `make openapi` (tools/openapi.py): OpenAI's shapes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# The default of MAX_PROMPT_CHARS, which bounds each input (a deployment may change it).
_Input = Annotated[
    str, Field(min_length=1, max_length=2048, description="at most MAX_PROMPT_CHARS (2048 by default)")
]


class _Open(BaseModel):
    """Fields the gateway does not decide are passed to the provider (docs/embeddings.md)."""

    model_config = ConfigDict(extra="allow")


class EmbeddingsRequest(_Open):
    """Each input at most MAX_PROMPT_CHARS, all of them at most MAX_INPUT_CHARS (docs/embeddings.md)."""

    model: str | None = Field(None, max_length=256)
    input: _Input | Annotated[list[_Input], Field(min_length=1, max_length=2048)]
    dimensions: int | None = Field(None, ge=1, le=65536)
    encoding_format: Literal["float", "base64"] | None = None
    user: str | None = None


class EmbeddingsUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class Embeddings(_Open):
    object: str
    data: list[dict[str, Any]]
    model: str
    usage: EmbeddingsUsage

"""The Messages API's bodies and replies for `make openapi` (tools/openapi.py): Anthropic's shapes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    """Fields the gateway does not decide pass on as they came (docs/messages-api.md)."""

    model_config = ConfigDict(extra="allow")


class AnthropicMessage(_Open):
    role: Literal["user", "assistant"]
    content: str | list[dict[str, Any]]


class _MessagesInput(_Open):
    """Anthropic's Messages API (docs/messages-api.md): on an `anthropic` route every field the gateway
    does not decide is passed on as it came; other routes take what has an equivalent."""

    model: str = Field(min_length=1, max_length=256)
    messages: list[AnthropicMessage] = Field(min_length=1)
    system: str | list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: dict[str, Any] | None = None


class MessagesRequest(_MessagesInput):
    max_tokens: int = Field(ge=1, le=4096, description="1 to MAX_TOKENS_LIMIT (4096 by default)")
    temperature: float | None = Field(None, ge=0, le=1)
    top_p: float | None = Field(None, ge=0, le=1)
    top_k: int | None = Field(None, ge=0)
    stop_sequences: list[str] | None = None
    metadata: dict[str, Any] | None = None
    stream: bool | None = None


class CountTokensRequest(_MessagesInput):
    """The input of a Messages request; the count is the one the budget reserves."""


class MessageReply(_Open):
    id: str
    type: Literal["message"]
    role: Literal["assistant"]
    model: str
    content: list[dict[str, Any]]
    stop_reason: str | None
    stop_sequence: str | None
    usage: dict[str, Any]


class TokenCount(BaseModel):
    input_tokens: int


class AnthropicErrorDetail(BaseModel):
    type: str
    message: str


class AnthropicErrorReply(BaseModel):
    """Every error of the Messages API, Anthropic's shape (the anthropic SDK raises its classes from it)."""

    type: Literal["error"]
    error: AnthropicErrorDetail

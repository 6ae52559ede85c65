"""The Responses API's part of the OpenAPI document (tools/openapi.py): its request body and replies.
Importing lib.http.responses_routes registers its routes, so the document lists them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

import lib.http.responses_routes  # noqa: F401  (registers the routes the document describes)


class _Open(BaseModel):
    """Fields not listed follow chat's rule: passed on (docs/responses-api.md says which are translated)."""

    model_config = ConfigDict(extra="allow")


class ResponseCreateRequest(_Open):
    """`input` is a string or an array of items (message, function_call, function_call_output, ...)."""

    input: str | list[dict[str, Any]]
    model: str | None = Field(None, max_length=256)
    instructions: str | None = None
    max_output_tokens: int | None = Field(
        None, ge=1, le=4096, description="1 to MAX_TOKENS_LIMIT (4096 by default)"
    )
    temperature: float | None = None
    top_p: float | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    text: dict[str, Any] | None = Field(None, description="format: text, json_object or json_schema")
    metadata: dict[str, str] | None = None
    user: str | None = None
    store: bool | None = Field(None, description="true by default: kept for RESPONSES_TTL_DAYS")
    previous_response_id: str | None = None
    stream: bool | None = None
    include: list[str] | None = None


class InputTokensRequest(_Open):
    """What `POST /v1/responses` would be sent, without the output's fields: its input is counted."""

    input: str | list[dict[str, Any]]
    model: str | None = Field(None, max_length=256)
    instructions: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    text: dict[str, Any] | None = None
    previous_response_id: str | None = Field(None, description="its stored conversation is counted too")


class InputTokenCount(BaseModel):
    object: Literal["response.input_tokens"]
    input_tokens: int = Field(description="the input's bound, what the budget reserves for it")


class ResponseObject(_Open):
    id: str
    object: Literal["response"]
    created_at: int
    status: str
    model: str
    output: list[dict[str, Any]]
    output_text: str
    usage: dict[str, Any] | None
    store: bool


class ResponseDeleted(BaseModel):
    id: str
    object: Literal["response.deleted"]
    deleted: bool


class InputItemList(BaseModel):
    object: Literal["list"]
    data: list[dict[str, Any]]
    first_id: str | None
    last_id: str | None
    has_more: bool


OPERATIONS: dict[tuple[str, str], tuple[str, type[BaseModel] | None, type[BaseModel]]] = {
    ("POST", "/v1/responses"): (
        "OpenAI Responses API: create a response",
        ResponseCreateRequest,
        ResponseObject,
    ),
    ("POST", "/v1/responses/input_tokens"): ("The input's token count", InputTokensRequest, InputTokenCount),
    ("GET", "/v1/responses/<response_id>"): ("A stored response", None, ResponseObject),
    ("DELETE", "/v1/responses/<response_id>"): ("Delete a stored response", None, ResponseDeleted),
    ("GET", "/v1/responses/<response_id>/input_items"): (
        "A stored response's input items",
        None,
        InputItemList,
    ),
}

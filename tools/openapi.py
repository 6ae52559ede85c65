"""`make openapi`: write lib/http/openapi.json, the OpenAPI document `GET /openapi.json` serves.

Generated here (at build and test time) with powertools' own generator, which needs pydantic: the
function only reads the finished file, so nothing on the Lambda's cold path imports pydantic. The
paths come from the real routes (`lib.http.routes.ALLOWED_METHODS`); this module adds what the route
functions do not declare: the request bodies and the replies, including the error shape.

`python -m tools.openapi --check` exits non-zero when the committed file is stale.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
from collections.abc import Callable
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, ConfigDict, Field

from lib.http import embeddings_routes, messages_routes  # noqa: F401 (registers its routes)
from lib.http.routes import ALLOWED_METHODS, OPENAPI_FILE
from tools.openapi_embeddings import Embeddings, EmbeddingsRequest
from tools.openapi_messages import (
    AnthropicErrorReply,
    CountTokensRequest,
    MessageReply,
    MessagesRequest,
    TokenCount,
)
from tools.openapi_responses import OPERATIONS as RESPONSES_OPERATIONS

TITLE = "modelgate"
VERSION = "1"


class _Open(BaseModel):
    """OpenAI bodies: fields the gateway does not decide are passed to the provider."""

    model_config = ConfigDict(extra="allow")


class ContentPart(_Open):
    type: str
    text: str | None = None


class Message(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None


class StreamOptions(_Open):
    include_usage: bool | None = False  # null reads as absent, as OpenAI reads it


# The defaults of MAX_TOKENS_LIMIT and MAX_PROMPT_CHARS (a deployment may change them).
_MAX_TOKENS = Field(None, ge=1, le=4096, description="1 to MAX_TOKENS_LIMIT (4096 by default)")
_PROMPT = Field(min_length=1, max_length=2048, description="at most MAX_PROMPT_CHARS (2048 by default)")


_PromptText = Annotated[str, _PROMPT]


class _Sampling(_Open):
    model: str | None = Field(None, max_length=256)
    temperature: float | None = None
    seed: int | None = Field(None, description="a 64-bit integer")


class GenerateRequest(_Sampling):
    """The original design's contract."""

    model_config = ConfigDict(extra="ignore")
    prompt: str = _PROMPT
    max_tokens: int | None = _MAX_TOKENS
    domain: str | None = None


class BatchRequest(BaseModel):
    """Up to BATCH_MAX_ITEMS (16 by default) /api/generate bodies; each item is validated on its own
    and answered in its result (an invalid item is that item's 400, the batch is still a 200)."""

    requests: list[dict[str, Any]] = Field(min_length=1, max_length=16)


class BatchResult(_Open):
    status: int
    body: dict[str, Any]


class BatchReply(BaseModel):
    results: list[BatchResult]


class _OpenAIOptions(_Sampling):
    """Passed to the provider, with the types OpenAI documents (lib/stages/field_types.py checks them)."""

    stream: bool | None = None
    stream_options: StreamOptions | None = None
    n: Literal[1] | None = None
    stop: str | list[str] | None = None
    logit_bias: dict[str, float] | None = None
    user: str | None = None
    top_p: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None


class ChatCompletionRequest(_OpenAIOptions):
    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = _MAX_TOKENS
    max_completion_tokens: int | None = _MAX_TOKENS
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None


class CompletionRequest(_OpenAIOptions):
    prompt: _PromptText | Annotated[list[_PromptText], Field(min_length=1, max_length=1)]
    max_tokens: int | None = _MAX_TOKENS
    best_of: Literal[1] | None = None
    suffix: str | None = None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class GenerateReply(BaseModel):
    id: str
    model: str
    text: str
    usage: Usage


class Completion(_Open):
    id: str
    object: str
    created: int
    model: str
    choices: list[dict[str, Any]]
    usage: Usage


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: str | None
    param: str | None


class ErrorReply(BaseModel):
    """Every error, OpenAI's shape (the SDKs raise their matching exception classes from it)."""

    error: ErrorDetail


class JsonObject(_Open):
    """A JSON object; docs/api.md describes its fields."""


# What the route functions do not declare: (method, path) -> (summary, request body, reply).
_OPERATIONS: dict[tuple[str, str], tuple[str, type[BaseModel] | None, type[BaseModel]]] = {
    ("POST", "/api/generate"): ("Generate text from one prompt", GenerateRequest, GenerateReply),
    ("POST", "/api/generate/batch"): ("Several /api/generate requests at once", BatchRequest, BatchReply),
    ("POST", "/v1/chat/completions"): ("OpenAI chat completions", ChatCompletionRequest, Completion),
    ("POST", "/v1/completions"): ("OpenAI legacy completions", CompletionRequest, Completion),
    ("POST", "/v1/embeddings"): ("OpenAI embeddings", EmbeddingsRequest, Embeddings),
    ("GET", "/v1/models"): ("The upstream's model list", None, JsonObject),
    ("POST", "/v1/messages"): ("Anthropic's Messages API", MessagesRequest, MessageReply),
    ("POST", "/v1/messages/count_tokens"): ("The input's token count", CountTokensRequest, TokenCount),
    ("GET", "/v1/usage"): ("The caller's usage today and its limits", None, JsonObject),
    ("GET", "/health"): ("Configuration check, no upstream call", None, JsonObject),
    ("GET", "/openapi.json"): ("This document", None, JsonObject),
    **RESPONSES_OPERATIONS,
}
# Every status the gateway answers with an error body (see docs/api.md: errors).
_ERROR_STATUSES = (400, 401, 404, 405, 413, 429, 500, 502, 503, 504)
# With "stream": true each event is `data: <a chunk as JSON>`, the last one `data: [DONE]`.
_SSE_EVENT = {"type": "object", "properties": {"data": {"type": "string"}}, "required": ["data"]}
_PATH_PARAMETER = re.compile(r"<(\w+)>")


def build_document() -> dict[str, Any]:
    app = APIGatewayHttpResolver()
    for path, methods in sorted(ALLOWED_METHODS.items()):
        for method in sorted(methods):
            summary, body_model, reply_model = _describe(method, path)
            app.route(
                path,
                method,
                summary=summary,
                responses=_responses(method, body_model, reply_model, _error_model(path)),
                operation_id=_operation_id(method, path),
            )(_stub(path, body_model))
    document: dict[str, Any] = json.loads(app.get_openapi_json_schema(title=TITLE, version=VERSION))
    _drop_unused_schemas(document)
    return document


def _error_model(path: str) -> type[BaseModel]:
    return AnthropicErrorReply if path.startswith(messages_routes.MESSAGES_PATH) else ErrorReply


def _responses(
    method: str,
    body_model: type[BaseModel] | None,
    reply_model: type[BaseModel],
    error_model: type[BaseModel],
) -> dict[int, Any]:
    if method == "HEAD":  # GET's status and headers, no body
        return {status: {"description": "as GET, without a body"} for status in (200, *_ERROR_STATUSES)}
    content: dict[str, Any] = {"application/json": {"model": reply_model}}
    if body_model is not None and "stream" in body_model.model_fields:
        content["text/event-stream"] = {"schema": _SSE_EVENT}  # with "stream": true
    responses: dict[int, Any] = {200: {"description": "OK", "content": content}}
    for status in _ERROR_STATUSES:
        responses[status] = {"description": "error", "content": {"application/json": {"model": error_model}}}
    return responses


def render() -> str:
    return json.dumps(build_document(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _drop_unused_schemas(document: dict[str, Any]) -> None:
    """powertools adds its validation-error models (a 422 this gateway never answers); keep what is used."""
    schemas = document["components"]["schemas"]
    while True:
        text = json.dumps(document)
        unused = [name for name in schemas if f'"#/components/schemas/{name}"' not in text]
        if not unused:
            return
        for name in unused:
            del schemas[name]


def _describe(method: str, path: str) -> tuple[str, type[BaseModel] | None, type[BaseModel]]:
    known = _OPERATIONS.get((method, path))
    if known is not None:
        return known
    if method == "POST":
        raise SystemExit(f"describe the request body of POST {path} in tools/openapi.py (_OPERATIONS)")
    return f"{method} {path}", None, JsonObject


def _operation_id(method: str, path: str) -> str:
    return method.lower() + re.sub(r"\W+", "_", path).rstrip("_")


def _stub(path: str, body_model: type[BaseModel] | None) -> Callable[..., None]:
    """A function with the signature powertools reads the path parameters and the body from."""

    def operation(**_: Any) -> None:
        return None

    parameters = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=str)
        for name in _PATH_PARAMETER.findall(path)
    ]
    if body_model is not None:
        parameters.append(
            inspect.Parameter(
                "body", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[body_model, Body()]
            )
        )
    operation.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return operation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when the committed file is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not OPENAPI_FILE.exists() or OPENAPI_FILE.read_text(encoding="utf-8") != text:
            sys.exit(f"{OPENAPI_FILE.name} is stale: run make openapi and commit it")
        return
    OPENAPI_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {OPENAPI_FILE} ({len(text.encode())} bytes)")


if __name__ == "__main__":
    main()

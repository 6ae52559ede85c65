"""OpenAI's embeddings: `POST /v1/embeddings`.

The same stages as chat completions (lib/http/routes.py): the caller, the body, routing (to a route
of kind "embeddings"), limits, budgets, the cache and the deadline; the request's parsing and the
reply's shape are lib/apis/openai_embeddings.py's.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from lib.apis.openai_embeddings import embeddings_reply, parse_embeddings
from lib.http.routes import _begin, _deadline, _identify, _json_body, _record, _refresh_cache, _route
from lib.stages.completion import complete

router = APIGatewayHttpRouter()


@_route("POST", "/v1/embeddings", on=router)
def create_embeddings() -> dict[str, Any]:
    services = _begin()
    caller = _identify(services)
    request = parse_embeddings(_json_body(services), services.settings)
    body, usage = complete(
        request, caller, services, _record(), _deadline(services), refresh_cache=_refresh_cache()
    )
    return embeddings_reply(body, request, usage)

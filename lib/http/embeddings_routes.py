"""OpenAI's embeddings: `POST /v1/embeddings`.

The same stages as chat completions (lib/http/route_stages.py): the caller, the body, routing (to a route
of kind "embeddings"), limits, budgets, the cache and the deadline; the request's parsing and the
reply's shape are lib/apis/openai_embeddings.py's.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from lib.apis.openai_embeddings import embeddings_reply, parse_embeddings
from lib.http.route_stages import RouteStages

router = APIGatewayHttpRouter()
stages = RouteStages(router)


@stages.route("POST", "/v1/embeddings")
def create_embeddings() -> dict[str, Any]:
    services = stages.begin()
    caller = stages.identify(services)
    request = parse_embeddings(stages.json_body(services), services.settings)
    body, usage = stages.complete(request, caller, services)
    return embeddings_reply(body, request, usage)

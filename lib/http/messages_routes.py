"""Anthropic's Messages API: `POST /v1/messages` (whole or streamed) and `POST /v1/messages/count_tokens`.

The same stages as chat completions (lib/http/route_stages.py): the caller, the body, routing, limits,
budgets, the cache and the deadline; only the request's parsing and the reply's shape are the
Messages API's (lib/apis/anthropic_messages*.py). The model list answers in Anthropic's shape in
routes.py, where both APIs share its path.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from lib.apis.anthropic_messages import input_tokens, parse_count_tokens, parse_messages
from lib.apis.anthropic_messages_reply import count_reply, message_reply
from lib.http.route_stages import RouteStages

router = APIGatewayHttpRouter()
stages = RouteStages(router)
MESSAGES_PATH = "/v1/messages"


@stages.route("POST", MESSAGES_PATH)
def create_message() -> Any:
    services = stages.begin()
    caller = stages.identify(services)
    headers = router.current_event.headers or {}
    request = parse_messages(stages.json_body(services), services.settings, headers)
    if request.stream:
        from lib.apis import anthropic_messages_stream  # on use: most requests are not streams

        return stages.streamed(anthropic_messages_stream, request, caller, services)
    body, usage = stages.complete(request, caller, services)
    return message_reply(body, request, usage)


@stages.route("POST", f"{MESSAGES_PATH}/count_tokens")
def count_tokens() -> dict[str, Any]:
    """The gateway's own count of the input, the one the budget reserves: no model is called."""
    services = stages.begin()
    caller = stages.identify(services)
    request = parse_count_tokens(stages.json_body(services), services.settings)
    services.limiter.admit(caller, reserve_tokens=0)  # it costs no tokens, but counts as a request
    return count_reply(input_tokens(request))

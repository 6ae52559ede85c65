"""Anthropic's Messages API: `POST /v1/messages` (whole or streamed) and `POST /v1/messages/count_tokens`.

The same stages as chat completions (lib/http/routes.py): the caller, the body, routing, limits,
budgets, the cache and the deadline; only the request's parsing and the reply's shape are the
Messages API's (lib/apis/anthropic_messages*.py). The model list answers in Anthropic's shape in
routes.py, where both APIs share its path.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from lib.apis.anthropic_messages import input_tokens, parse_count_tokens, parse_messages
from lib.apis.anthropic_messages_reply import count_reply, message_reply
from lib.http.routes import (
    _begin,
    _deadline,
    _identify,
    _json_body,
    _record,
    _refresh_cache,
    _route,
    _streamed,
)
from lib.stages.completion import complete

router = APIGatewayHttpRouter()
MESSAGES_PATH = "/v1/messages"


@_route("POST", MESSAGES_PATH, on=router)
def create_message() -> Any:
    services = _begin()
    caller = _identify(services)
    request = parse_messages(_json_body(services), services.settings, router.current_event.headers or {})
    if request.stream:
        from lib.apis import anthropic_messages_stream  # on use: most requests are not streams

        return _streamed(anthropic_messages_stream, request, caller, services)
    body, usage = complete(
        request, caller, services, _record(), _deadline(services), refresh_cache=_refresh_cache()
    )
    return message_reply(body, request, usage)


@_route("POST", f"{MESSAGES_PATH}/count_tokens", on=router)
def count_tokens() -> dict[str, Any]:
    """The gateway's own count of the input, the one the budget reserves: no model is called."""
    services = _begin()
    caller = _identify(services)
    request = parse_count_tokens(_json_body(services), services.settings)
    services.limiter.admit(caller, reserve_tokens=0)  # it costs no tokens, but counts as a request
    return count_reply(input_tokens(request))

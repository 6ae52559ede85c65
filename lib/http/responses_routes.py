"""OpenAI's Responses API: `POST /v1/responses`, `POST /v1/responses/input_tokens`, `GET` and
`DELETE /v1/responses/{id}`, `GET /v1/responses/{id}/input_items` (their own router, included by
lib/http/app.py).

A response runs the stages chat completions run (route, limits, budget, free allowances, cache,
deadline, telemetry). Before them: the stored conversation `previous_response_id` continues is read
(one Query; not for a caller this container already knows to be over its rate limit), and the chosen
route decides the request's form: a route whose provider speaks the Responses API itself
(`apis = ["responses"]`) gets the caller's body; any other gets the conversation translated to chat,
and what cannot be translated is a 400 naming it, before anything is spent.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from lib.core.request import ModelRequest
from lib.http.route_stages import RouteStages
from lib.platform.errors import InvalidRequest, NotFound
from lib.stages.context import Services
from lib.stages.stored_responses import ResponseStore

if TYPE_CHECKING:
    from lib.apis.openai_responses import ResponsesCall
    from lib.apis.openai_responses_items import Untranslatable

# The Responses API's own modules are imported on use: a cold start serves chat first more often.
router = APIGatewayHttpRouter()
stages = RouteStages(router)
_INPUT_ITEMS_LIMIT = 100


@stages.route("POST", "/v1/responses")
def create_response() -> Any:
    from lib.apis.openai_responses import neutral_request, parse_responses
    from lib.apis.openai_responses_replies import Turn, reply

    services = stages.begin()
    caller = stages.identify(services)
    settings = services.settings
    call = parse_responses(stages.json_body(services), settings)
    store = _store(services)
    if call.previous_response_id is not None:
        # The admission needs the whole conversation's size, so it follows the Query; a caller this
        # container already saw over its rate limit is refused first, and costs no Query.
        services.limiter.refuse_if_known_over(caller)
    conversation = store.conversation(call.previous_response_id, caller.caller_id)
    request, untranslatable = neutral_request(call, conversation.items, settings)
    request = _for_route(request, untranslatable, services, call, conversation.items)
    keeping = call.store and store.enabled
    if keeping:
        echoed = {name: value for name, value in call.body.items() if name != "input"}
        store.check_fits(echoed, call.items, request.max_tokens)
    turn = Turn(store.new_response_id(conversation), int(time.time()), request.model, keeping)
    record = stages.record()

    def keep(response: dict[str, Any]) -> bool:
        kept = store.save(response, call.items, caller.caller_id, conversation)
        record.store_failures += int(not kept)
        return kept

    if request.stream:
        from lib.apis.openai_responses_stream import ResponsesStream  # on use: most are not streams

        return stages.streamed(ResponsesStream(call, turn, keep), request, caller, services)
    body, usage = stages.complete(request, caller, services)
    response = reply(body, request, usage, call, turn._replace(model=record.model or request.model))
    if response["store"]:
        response["store"] = keep(response)
    return response


@stages.route("POST", "/v1/responses/input_tokens")
def count_input_tokens() -> dict[str, Any]:
    """The gateway's own bound of the input, the one the budget reserves (stored turns included): the
    same checks and route as `POST /v1/responses`, and no model called, no tokens charged."""
    from lib.apis.openai_responses import neutral_request, parse_responses
    from lib.apis.openai_responses_replies import input_tokens_count

    services = stages.begin()
    caller = stages.identify(services)
    call = parse_responses(stages.json_body(services), services.settings)
    # It reserves nothing, so it is admitted before the conversation is read: no Query over the limit.
    services.limiter.admit(caller, reserve_tokens=0)
    conversation = _store(services).conversation(call.previous_response_id, caller.caller_id)
    request, untranslatable = neutral_request(call, conversation.items, services.settings)
    request = _for_route(request, untranslatable, services, call, conversation.items)
    return input_tokens_count(request.input_tokens)


def _for_route(
    request: ModelRequest,
    untranslatable: list[Untranslatable],
    services: Services,
    call: ResponsesCall,
    history: list[dict[str, Any]],
) -> ModelRequest:
    """The request in the form the chosen route takes (the dispatcher chooses the same route again)."""
    from lib.apis.openai_responses import with_native
    from lib.apis.openai_responses_fields import in_responses_terms

    route = services.chooser.choose(request.model, request.domain, request.prompt_text())
    if "responses" in route.apis:
        return with_native(request, call, history, services.settings)
    if untranslatable:
        raise untranslatable[0].error()
    try:
        services.providers[route.name].check(request)
    except InvalidRequest as error:
        raise in_responses_terms(error) from None
    return request


# Not taken for a response id (a 405 naming GET and DELETE would mislead): a 404 saying why.
stages.not_served(
    "POST",
    "/v1/responses/compact",
    "compaction needs the provider's own encrypted context; continue with previous_response_id, or send "
    "the turns you keep",
)


@stages.route("GET", "/v1/responses/<response_id>")
def retrieve_response(response_id: str) -> dict[str, Any]:
    services = stages.begin()
    caller = stages.admit(services)  # reading a stored response costs no tokens
    if (_query().get("stream") or "").lower() == "true":
        raise InvalidRequest(
            "stream is for background responses, which are not served; retrieve the whole response",
            param="stream",
            code="unsupported_parameter",
        )
    stored = _store(services).get(unquote(response_id), caller.caller_id)
    if stored is None:
        raise _not_found(response_id)
    return stored.response


@stages.route("DELETE", "/v1/responses/<response_id>")
def delete_response(response_id: str) -> dict[str, Any]:
    from lib.apis.openai_responses_replies import deleted

    services = stages.begin()
    caller = stages.admit(services)  # reading a stored response costs no tokens
    wanted = unquote(response_id)
    if not _store(services).delete(wanted, caller.caller_id):
        raise _not_found(response_id)
    return deleted(wanted)


@stages.route("GET", "/v1/responses/<response_id>/input_items")
def list_input_items(response_id: str) -> dict[str, Any]:
    from lib.apis.openai_responses_replies import input_items_page

    services = stages.begin()
    caller = stages.admit(services)  # reading a stored response costs no tokens
    query = _query()
    order = query.get("order") or "desc"
    if order not in ("asc", "desc"):
        raise InvalidRequest('order must be "asc" or "desc"', param="order")
    limit_text = query.get("limit") or "20"
    limit = int(limit_text) if limit_text.isdigit() else 0
    if not 1 <= limit <= _INPUT_ITEMS_LIMIT:
        raise InvalidRequest(f"limit must be a whole number from 1 to {_INPUT_ITEMS_LIMIT}", param="limit")
    stored = _store(services).get(unquote(response_id), caller.caller_id)
    if stored is None:
        raise _not_found(response_id)
    return input_items_page(stored.input_items, order, query.get("after") or None, limit)


def _store(services: Services) -> ResponseStore:
    return services.responses or ResponseStore(None, services.settings)


def _query() -> dict[str, str]:
    return dict(router.current_event.query_string_parameters or {})


def _not_found(response_id: str) -> NotFound:
    return NotFound(
        f"no stored response {unquote(response_id)[:64]!r}: it is another caller's, was deleted, expired "
        "after RESPONSES_TTL_DAYS, or was not stored (store: false, or stored responses are off)",
        code="response_not_found",
    )

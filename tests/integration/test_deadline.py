"""The gateway's own 504 reaches the caller before any platform limit cuts the request, cold start included.

API Gateway cuts an HTTP API integration 30 s after the request arrived and answers a bare 503; the
Lambda's remaining time starts only after its init. So the deadline is anchored on the request's
arrival, `requestContext.timeEpoch`, on both the HTTP API and the Function URL.
"""

import json
import time

import pytest

from lib import services
from lib.http.route_stages import ANSWER_MARGIN_S, ARRIVAL_LIMIT_S
from local.events import http_api_event
from local.template import load_template
from tests.conftest import invoke_event, load_event
from tests.support.fake_upstream import Behaviour

pytestmark = pytest.mark.usefixtures("gateway_env")

WAITED_S = 26.0  # a cold start and a queue before the handler ran: 1.5 s of the answer budget is left


def arrived(event, seconds_ago):
    event["requestContext"]["timeEpoch"] = int((time.time() - seconds_ago) * 1000)
    return event


def chat_event():
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode()
    return http_api_event(
        "POST", "/v1/chat/completions", body=body, headers=[("content-type", "application/json")]
    )


@pytest.mark.parametrize(
    "event", [chat_event, lambda: load_event("function-url.json")], ids=["http-api", "function-url"]
)
def test_a_request_that_waited_gets_the_gateways_504_before_the_30_s_cut(upstream, event):
    upstream.then(
        *[Behaviour(delay_s=6) for _ in range(4)]
    )  # AI_MODEL_TIMEOUT_S is 30: only the arrival cuts
    # The container is warm: the 26 s waited stand for its cold start (on a loaded machine, building the
    # services here could alone take longer than the 1.5 s left)
    services.get_services()
    started = time.monotonic()
    reply = invoke_event(arrived(event(), WAITED_S), remaining_s=30.0)  # Lambda's own clock: a full 30 s
    elapsed = time.monotonic() - started
    assert reply.status == 504 and reply.error["code"] == "upstream_timeout"
    assert 1.0 <= elapsed < ARRIVAL_LIMIT_S - WAITED_S, f"answered {WAITED_S + elapsed:.1f} s after arrival"


def test_an_event_replayed_long_after_it_arrived_is_served(upstream):
    event = load_event("chat.json")  # timeEpoch from 2020, as `make invoke` replays it
    assert time.time() - event["requestContext"]["timeEpoch"] / 1000 > 86_400
    assert invoke_event(event).status == 200


def test_a_request_that_arrived_just_now_keeps_the_configured_deadline(upstream, gateway_env):
    gateway_env.setenv("AI_MODEL_TIMEOUT_S", "0.5")
    upstream.then(*[Behaviour(delay_s=10) for _ in range(4)])
    started = time.monotonic()
    assert invoke_event(arrived(chat_event(), 0.2)).status == 504
    assert time.monotonic() - started < 4  # the 0.5 s deadline, not the 10 s answer (room for a busy machine)


def test_the_template_leaves_room_for_the_504_under_every_platform_limit():
    template = load_template()
    function = {**template["Globals"]["Function"], **template["Resources"]["ApiFunction"]["Properties"]}
    model_timeout_s = float(function["Environment"]["Variables"]["AI_MODEL_TIMEOUT_S"])
    assert ARRIVAL_LIMIT_S == 30.0  # API Gateway's HTTP API integration limit
    assert model_timeout_s + ANSWER_MARGIN_S <= ARRIVAL_LIMIT_S
    # Lambda must not stop the function before the gateway has answered on its own.
    assert function["Timeout"] >= model_timeout_s + ANSWER_MARGIN_S

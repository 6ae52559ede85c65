"""Issue 21, hardening item 1: a stream through the HTTP API handler (which joins the body) ends by the
same time from the request's arrival as a whole answer, not by the Lambda's own remaining time, so
API Gateway's 30 s cut never comes first."""

from __future__ import annotations

import json
import time

from lib.http.route_stages import ANSWER_MARGIN_S, ARRIVAL_LIMIT_S
from tests.conftest import invoke_event
from tests.integration.test_deadline import WAITED_S, arrived, chat_event
from tests.support.fake_upstream import Behaviour

WORDS = tuple(f" word{index}" for index in range(8))
PACE_S = 0.5  # the whole stream takes 8 x 0.5 = 4 s; 1.5 s of the answer budget is left


def stream_event():
    event = chat_event()
    body = json.loads(event["body"])
    event["body"] = json.dumps({**body, "stream": True})
    return event


def test_a_stream_that_would_outlast_the_arrival_budget_ends_with_an_error_event_in_time(
    gateway_env, upstream, output
):
    # Given a request that waited 26 s before its invocation, whose Lambda still has a full 30 s
    upstream.then(Behaviour(words=WORDS, pace_s=PACE_S))
    # When its answer streams for longer than the 1.5 s left of the answer budget
    started = time.monotonic()
    reply = invoke_event(arrived(stream_event(), WAITED_S), remaining_s=30.0)
    elapsed = time.monotonic() - started
    # Then the stream is cut where a whole answer's deadline would end, with the format's error event
    # (never a clean end), and the joined answer is back before API Gateway's cut
    assert reply.status == 200
    events = [part for part in reply.text.split("\n\n") if part.startswith("data: ")]
    assert '"error"' in events[-1] and "data: [DONE]" not in reply.text
    assert output.access_lines()[-1]["stream"]["fault"] == "max_time"
    assert WAITED_S + elapsed < ARRIVAL_LIMIT_S, f"answered {WAITED_S + elapsed:.1f} s after arrival"
    assert elapsed < len(WORDS) * PACE_S  # (the upstream's own pace: the stream did not run to its end)


def test_a_stream_within_the_budget_is_not_cut(gateway_env, upstream):
    upstream.then(Behaviour(words=WORDS[:2], pace_s=0.1))
    reply = invoke_event(arrived(stream_event(), ARRIVAL_LIMIT_S - ANSWER_MARGIN_S - 10), remaining_s=30.0)
    assert reply.status == 200 and reply.text.endswith("data: [DONE]\n\n")

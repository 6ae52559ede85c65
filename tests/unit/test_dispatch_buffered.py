"""A provider that cannot stream (`open_stream` returns None) still serves `stream: true`: its whole
answer is replayed as pieces, and the access line says the stream was buffered. Every provider that
ships streams for real; this is the contract a new provider may rely on."""

from __future__ import annotations

import time
from typing import Any

from lib.core.request import ModelRequest
from lib.platform.deadline import Deadline
from lib.platform.route_table import Route
from lib.providers.call_stats import CallStats
from lib.providers.upstream_stream import StreamLimits
from lib.routing.breaker import CircuitBreaker
from lib.routing.dispatch import Dispatcher, RouteTrace
from lib.routing.quotas import FreeQuotas

ROUTE = Route(name="whole", provider="whole-only", model="m")
ANSWER = {
    "object": "chat.completion",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "all at once"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
}


class WholeAnswersOnly:
    """A provider with no stream of its own."""

    route = ROUTE

    def __init__(self) -> None:
        self.completed = 0

    def check(self, request: ModelRequest) -> None:
        return None

    def complete(self, request: ModelRequest, deadline: Deadline, stats: CallStats) -> dict[str, Any]:
        self.completed += 1
        return ANSWER

    def open_stream(
        self, request: ModelRequest, deadline: Deadline, stats: CallStats, limits: StreamLimits
    ) -> None:
        return None


def test_a_provider_that_cannot_stream_is_replayed_whole_as_pieces():
    provider = WholeAnswersOnly()
    dispatcher = Dispatcher(
        {ROUTE.name: provider},  # type: ignore[dict-item]
        {ROUTE.name: CircuitBreaker(ROUTE.name)},
        FreeQuotas(None, zero_cost=False),
    )
    request = ModelRequest(kind="chat", model="m", max_tokens=10, stream=True)
    trace = RouteTrace()
    deadline = Deadline(5)
    limits = StreamLimits(idle_s=5, ends_at=time.monotonic() + 60)

    claim = dispatcher.open_stream(request, [ROUTE], 10, deadline, CallStats(), trace, limits)
    pieces = list(claim.result)
    claim.finish(True, 7)

    assert provider.completed == 1 and trace.buffered_stream and trace.served_by == "whole"
    assert "".join(piece.text for piece in pieces) == "all at once"
    assert pieces[-1].finish_reason == "stop" and pieces[-1].usage == (3, 4)

"""What a provider offers the gateway, and the shape every HTTP wire format shares.

A provider answers one validated `ModelRequest` for one route with an OpenAI-shaped body (a
`chat.completion` or `text_completion` object): replies, usage and budgets are then handled the same
way whoever answered. HTTP providers differ only in their wire format, a module of pure functions
(`check`, `build`, `parse`, `auth_headers`, `EXTRA_HEADERS`); `HttpProvider` runs any of them over the
shared HTTP mechanics of `lib/providers/upstream.py` (deadline, retries, Retry-After, key re-read on 401).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple, Protocol

import requests

from lib.core.pieces import StreamPiece
from lib.core.request import ModelRequest
from lib.keys.sources import KeySource
from lib.platform.deadline import Deadline
from lib.platform.route_table import Route
from lib.providers.call_stats import CallStats
from lib.providers.upstream import UpstreamClient
from lib.providers.upstream_stream import EventStream, ServerEvent, StreamFault, StreamLimits


class ProviderContext(NamedTuple):
    """What providers share per container."""

    session: requests.Session
    max_retries: int = 3
    max_response_bytes: int = 2 * 1024 * 1024
    aws_client: Callable[[str], Any] | None = None  # boto3 client factory, for providers that are AWS APIs


class StreamedToolCalls:
    """Tool calls as a provider streams them, in OpenAI's delta shape: the provider numbers its content
    blocks (text ones included), OpenAI numbers the tool calls alone, from 0."""

    def __init__(self) -> None:
        self._index_of: dict[Any, int] = {}  # the provider's block index -> OpenAI's tool call index

    def started(self, block: Any, call_id: str, name: str) -> StreamPiece:
        index = self._index_of[block] = len(self._index_of)
        call = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        return StreamPiece(tool_calls=[call])

    def arguments(self, block: Any, text: str) -> StreamPiece:
        """The next part of a started call's arguments (a JSON text, sent in pieces)."""
        index = self._index_of.get(block)
        if index is None:
            raise StreamFault("malformed", "the model sent tool input for no tool call")
        return StreamPiece(tool_calls=[{"index": index, "function": {"arguments": text}}])


class Provider(Protocol):
    route: Route

    def check(self, request: ModelRequest) -> None:
        """Raise InvalidRequest (naming the field and the route) for what this provider cannot take."""

    def complete(self, request: ModelRequest, deadline: Deadline, stats: CallStats) -> dict[str, Any]:
        """The answer as an OpenAI body; UpstreamError / UpstreamTimeout when the provider fails."""

    def open_stream(
        self, request: ModelRequest, deadline: Deadline, stats: CallStats, limits: StreamLimits
    ) -> Iterator[StreamPiece] | None:
        """The answer as it is written, once its first event is in (None: this provider cannot stream).
        Raises like `complete` before the first event; StreamFault after it."""


class WireFormat(Protocol):
    """The module of pure functions that describes one HTTP API (see lib/providers/openai.py)."""

    EXTRA_HEADERS: Mapping[str, str]

    def check(self, request: ModelRequest, route: Route) -> None: ...

    def build(self, request: ModelRequest, route: Route) -> tuple[str, dict[str, Any]]: ...

    def parse(self, body: dict[str, Any], request: ModelRequest) -> dict[str, Any]: ...

    def auth_headers(self, key: str) -> dict[str, str]: ...

    # Optional: `request_headers(request) -> dict[str, str]`, headers of this request's own.


class StreamingWireFormat(WireFormat, Protocol):
    def build_stream(self, request: ModelRequest, route: Route) -> tuple[str, dict[str, Any]]: ...

    def parse_stream(self, events: Iterable[ServerEvent], request: ModelRequest) -> Iterator[StreamPiece]: ...


class HttpProvider:
    def __init__(self, wire: WireFormat, route: Route, client: UpstreamClient) -> None:
        self.route = route
        self.wire = wire
        self.client = client

    def check(self, request: ModelRequest) -> None:
        self.wire.check(request, self.route)

    def complete(self, request: ModelRequest, deadline: Deadline, stats: CallStats) -> dict[str, Any]:
        path, payload = self.wire.build(request, self.route)
        body = self.client.call("POST", path, payload, deadline, stats, self._headers(request))
        return self.wire.parse(body, request)

    def open_stream(
        self, request: ModelRequest, deadline: Deadline, stats: CallStats, limits: StreamLimits
    ) -> Iterator[StreamPiece] | None:
        if not hasattr(self.wire, "parse_stream"):
            return None
        wire: StreamingWireFormat = self.wire  # type: ignore[assignment]
        path, payload = wire.build_stream(request, self.route)
        events = self.client.open_stream(path, payload, deadline, stats, limits, self._headers(request))
        return _closing(wire.parse_stream(events, request), events)

    def _headers(self, request: ModelRequest) -> dict[str, str] | None:
        """The request's own headers, where the wire format has any (`request_headers`)."""
        request_headers = getattr(self.wire, "request_headers", None)
        return request_headers(request) if request_headers is not None else None


def _closing(pieces: Iterator[StreamPiece], events: EventStream) -> Iterator[StreamPiece]:
    """The pieces, and the upstream connection closed however the caller stops reading them."""
    try:
        yield from pieces
    finally:
        events.close()


def http_provider(
    wire: WireFormat, route: Route, key_source: KeySource | None, context: ProviderContext
) -> HttpProvider:
    """An `HttpProvider` for `route` over `wire`, with the route's endpoints and key."""
    from lib.keys.sources import StaticKeySource

    client = UpstreamClient(
        route.endpoints,
        key_source or StaticKeySource(None),
        context.session,
        auth_headers=wire.auth_headers,
        extra_headers=dict(wire.EXTRA_HEADERS),
        max_retries=context.max_retries,
        max_response_bytes=context.max_response_bytes,
        caller_names_model=route.model is None,
    )
    return HttpProvider(wire, route, client)

"""What every stage is handed: the container's clients and settings, built once by the composition root
(lib/services.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from lib.callers.identity import CallerResolver
from lib.callers.limits import Limiter
from lib.platform.config import Settings
from lib.platform.route_table import RouteTable
from lib.providers.base import Provider
from lib.providers.upstream import UpstreamClient
from lib.routing.choice import RouteChooser
from lib.routing.dispatch import Dispatcher
from lib.routing.quotas import FreeQuotas
from lib.stages.cache import ResponseCache

if TYPE_CHECKING:
    from lib.stages.stored_responses import ResponseStore


class Services(NamedTuple):
    settings: Settings
    routes: RouteTable
    chooser: RouteChooser
    providers: dict[str, Provider]
    dispatcher: Dispatcher
    quotas: FreeQuotas
    callers: CallerResolver
    limiter: Limiter
    cache: ResponseCache
    responses: ResponseStore | None = None  # stored Responses (None: off)

    @property
    def upstream(self) -> UpstreamClient | None:
        """Single-model mode: the one route's HTTP client (it also answers GET /v1/models)."""
        provider = self.providers[self.routes.default]
        client = getattr(provider, "client", None)
        return client if isinstance(client, UpstreamClient) else None

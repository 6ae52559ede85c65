"""bedrock-runtime clients whose timeouts fit what is left of a deadline (lib/providers/bedrock.py).

A botocore client's timeouts are fixed when it is built, so each attempt takes a client whose connect
and read timeouts are no longer than what is left. Clients are cached per whole second of timeout (a
few, least recently used first out): building one costs milliseconds, not every request.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lib.platform.deadline import Deadline

if TYPE_CHECKING:
    from botocore.config import Config

_CONNECT_TIMEOUT_CAP_S = 5.0
_SHORTEST_TIMEOUT_S = 0.1  # below this no answer can arrive: the deadline has, in effect, passed
_MAX_CACHED_CLIENTS = 8

# A bedrock-runtime client built with this botocore Config. botocore is imported when the first client
# is built, not with this module: it would add ~0.15 s to every cold start, Bedrock routes or not.
ClientBuilder = Callable[["Config"], Any]


def boto3_client(config: Config) -> Any:
    """A bedrock-runtime client in the function's region, with its role (AWS_ENDPOINT_URL* honoured)."""
    import boto3  # deferred, as in lib/services.py: the import is most of a cold start

    return boto3.client("bedrock-runtime", config=config)


class ClientsByTimeout:
    """bedrock-runtime clients whose timeouts fit what is left of a deadline, built once per timeout."""

    def __init__(self, build: ClientBuilder = boto3_client, max_clients: int = _MAX_CACHED_CLIENTS) -> None:
        self._build = build
        self._max_clients = max_clients
        self._clients: OrderedDict[float, Any] = OrderedDict()
        self._lock = threading.Lock()

    def within(self, deadline: Deadline, longest_wait_s: float | None = None) -> Any | None:
        """A client whose timeouts end no later than the deadline, and whose read timeout is at most
        `longest_wait_s` (a stream's idle gap); None when too little is left."""
        for _ in range(2):
            timeout = _timeout_within(deadline.remaining())
            if timeout is None:
                return None
            if longest_wait_s is not None:
                timeout = min(timeout, longest_wait_s)
            client = self._cached(timeout) or self._built(timeout)
            # Building the first client imports boto3, which can take a good part of a second: if that
            # moved the deadline closer than this client's timeout, take one with a shorter timeout.
            if deadline.remaining() >= timeout:
                break
        return client

    def _cached(self, timeout: float) -> Any | None:
        with self._lock:
            client = self._clients.get(timeout)
            if client is not None:
                self._clients.move_to_end(timeout)
            return client

    def _built(self, timeout: float) -> Any:
        from botocore.config import Config

        config = Config(
            connect_timeout=min(timeout, _CONNECT_TIMEOUT_CAP_S),
            read_timeout=timeout,
            retries={"total_max_attempts": 1},  # one attempt: this module retries, within the deadline
        )
        client = self._build(config)
        with self._lock:
            self._clients[timeout] = client
            while len(self._clients) > self._max_clients:
                self._clients.popitem(last=False)
        return client


def _timeout_within(remaining_s: float) -> float | None:
    """Whole seconds, rounded down (tenths below one second): never longer than what is left."""
    if remaining_s >= 1:
        return float(math.floor(remaining_s))
    tenths = math.floor(remaining_s * 10) / 10
    return tenths if tenths >= _SHORTEST_TIMEOUT_S else None

"""Cut an HTTP wait at an absolute deadline, the status line and headers included.

requests' read timeout applies to each socket read, so an upstream that sends its status line and
headers a byte at a time restarts it with every byte and can hold a request for as long as it likes.
Body reads are bounded by the caller (each gets the time left), but the header reads happen inside
urllib3. So: the session's connections report their socket when they start waiting for a response,
and one watchdog thread per container shuts that socket down when the attempt's deadline passes.
The blocked read then ends at once, and the attempt fails as timed out.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import requests
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_attempt = threading.local()


class Cut:
    """One watched wait: its deadline, the sockets it waits on, and whether the deadline cut it."""

    def __init__(self, expires_at: float) -> None:
        self.expires_at = expires_at
        self.sockets: list[socket.socket] = []
        self.fired = False


class _Watchdog:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._cuts: set[Cut] = set()
        self._thread: threading.Thread | None = None

    def add(self, cut: Cut) -> None:
        with self._lock:
            self._cuts.add(cut)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="socket-deadline", daemon=True)
                self._thread.start()
            self._lock.notify()

    def remove(self, cut: Cut) -> None:
        with self._lock:
            self._cuts.discard(cut)

    def watch(self, cut: Cut, sock: socket.socket) -> None:
        with self._lock:
            cut.sockets.append(sock)
            self._lock.notify()

    def _run(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                for cut in [cut for cut in self._cuts if cut.expires_at <= now and cut.sockets]:
                    cut.fired = True
                    self._cuts.discard(cut)
                    for sock in cut.sockets:
                        with contextlib.suppress(OSError):
                            sock.shutdown(socket.SHUT_RDWR)
                waiting = [cut.expires_at for cut in self._cuts if cut.sockets]
                self._lock.wait(timeout=max(min(waiting) - now, 0.0) if waiting else None)


_watchdog = _Watchdog()


@contextlib.contextmanager
def cut_at(expires_at: float) -> Iterator[Cut]:
    """Within this block, a response this thread waits for is cut when `time.monotonic()` passes
    `expires_at` (on sessions prepared with `install`)."""
    cut = Cut(expires_at)
    previous = getattr(_attempt, "cut", None)
    _attempt.cut = cut
    _watchdog.add(cut)
    try:
        yield cut
    finally:
        _watchdog.remove(cut)
        _attempt.cut = previous


class _WatchedHTTPConnection(HTTPConnection):
    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _report(self.sock)
        return super().getresponse(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _report(self.sock)
        return super().getresponse(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


def install(session: requests.Session) -> None:
    """Make the session's connections report their sockets (idempotent, cheap to call each time)."""
    for adapter in session.adapters.values():
        manager = getattr(adapter, "poolmanager", None)
        if manager is not None and manager.pool_classes_by_scheme is not _WATCHED_POOLS:
            manager.pool_classes_by_scheme = _WATCHED_POOLS
            manager.clear()  # pools made before would keep unwatched connections


def _report(sock: socket.socket | None) -> None:
    cut: Cut | None = getattr(_attempt, "cut", None)
    if cut is not None and sock is not None:
        _watchdog.watch(cut, sock)

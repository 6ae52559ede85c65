"""`make load`: concurrent clients against `make run`, then proof that the usage accounting held.

Each client is its own caller (its own loopback source address: `make run` identifies callers by IP)
and sends a mix of /api/generate, chat completions (plain and streamed with usage), legacy
completions and a seeded request that repeats (a cache hit after the first) on one keep-alive
connection, until the time or the request count runs out. It prints
throughput, p50/p99 latency, statuses and errors. Then, per caller, what the table recorded today
(`GET /v1/usage`, read before and after) must equal the sum of `usage.total_tokens` in the replies
that were not cache hits (`x-cache: hit`): nothing lost, nothing counted twice. That is the charging
rule that ships (docs/callers-and-limits.md): a served request is charged exactly the usage the
provider reported, never capped at its reservation, and a cache hit nothing. Exit status 1 when it
does not hold.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import urlsplit

from bench.local_gateway import local_gateway

_FIRST_SOURCE_ADDRESS = 10  # clients send from 127.0.0.10, 127.0.0.11, ...


@dataclass
class Tally:
    """What one client saw."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    reply_tokens: int = 0  # usage.total_tokens of the replies that were not cache hits
    cache_hits: int = 0
    unaccounted: int = 0  # 200 replies without a usage figure


@dataclass
class CallerCheck:
    caller: str
    recorded_tokens: int
    reply_tokens: int

    @property
    def holds(self) -> bool:
        return self.recorded_tokens == self.reply_tokens


class Client:
    def __init__(self, url: str, index: int, api_key: str | None) -> None:
        parts = urlsplit(url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._source = (f"127.0.0.{_FIRST_SOURCE_ADDRESS + index}", 0) if self._host == "127.0.0.1" else None
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self.index = index
        self._connection = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self._host, self._port, timeout=60, source_address=self._source)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], str]:
        data = json.dumps(body).encode() if body is not None else None
        try:
            self._connection.request(method, path, body=data, headers=self._headers)
            response = self._connection.getresponse()
            text = response.read().decode()
        except (OSError, http.client.HTTPException):
            self._connection.close()
            self._connection = self._connect()  # the next request gets a fresh connection
            raise
        return response.status, {name.lower(): value for name, value in response.getheaders()}, text

    def usage(self) -> dict[str, Any]:
        status, _, text = self.request("GET", "/v1/usage")
        if status != 200:
            raise RuntimeError(f"GET /v1/usage answered {status}: {text[:200]}")
        usage: dict[str, Any] = json.loads(text)
        return usage

    def close(self) -> None:
        self._connection.close()


def requests_for(client: int, number: int) -> tuple[str, dict[str, Any]]:
    """The mix: prompts of different lengths, so that the token sums mean something, and one seeded
    request that repeats, so that the response cache answers it (a hit charges nothing)."""
    words = " ".join(f"w{client}x{number}" for _ in range(1 + number % 7))
    kind = number % 5
    if kind == 4:
        return "/api/generate", {"prompt": f"the same question from {client}", "seed": 7, "max_tokens": 20}
    if kind == 0:
        return "/api/generate", {"prompt": f"load {words}", "max_tokens": 40}
    if kind == 1:
        return "/v1/chat/completions", {"messages": [{"role": "user", "content": f"chat {words}"}]}
    if kind == 2:
        return "/v1/chat/completions", {
            "messages": [{"role": "user", "content": f"stream {words}"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    return "/v1/completions", {"prompt": f"legacy {words}", "max_tokens": 30}


def reply_usage(headers: dict[str, str], text: str) -> int | None:
    """total_tokens of a 200 reply, JSON or event stream; None when it carries none."""
    if headers.get("content-type", "").startswith("text/event-stream"):
        for line in reversed(text.splitlines()):
            if line.startswith("data: {"):
                usage = json.loads(line[len("data: ") :]).get("usage")
                if usage:
                    return int(usage["total_tokens"])
        return None
    usage = json.loads(text).get("usage")
    return int(usage["total_tokens"]) if usage else None


class Budget:
    """The run's bounds, shared by the clients: a deadline and a request count."""

    def __init__(self, seconds: float, requests: int) -> None:
        self.deadline = time.monotonic() + seconds
        self._left = requests
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self._left <= 0 or time.monotonic() >= self.deadline:
                return False
            self._left -= 1
            return True


def drive(client: Client, budget: Budget, tally: Tally) -> None:
    number = 0
    while budget.take():
        path, body = requests_for(client.index, number)
        number += 1
        started = time.perf_counter()
        try:
            status, headers, text = client.request("POST", path, body)
        except (OSError, http.client.HTTPException) as exc:
            tally.errors[type(exc).__name__] += 1
            continue
        tally.latencies_ms.append((time.perf_counter() - started) * 1000)
        tally.statuses[status] += 1
        if status != 200:
            continue
        if headers.get("x-cache") == "hit":
            tally.cache_hits += 1
            continue
        tokens = reply_usage(headers, text)
        if tokens is None:
            tally.unaccounted += 1
        else:
            tally.reply_tokens += tokens


def check_usage(
    before: dict[int, dict[str, Any]], after: dict[int, dict[str, Any]], tallies: dict[int, Tally]
) -> list[CallerCheck]:
    """Per caller: tokens recorded today (after minus before) against the tokens its replies carried."""
    recorded: Counter[str] = Counter()
    replied: Counter[str] = Counter()
    for index, tally in tallies.items():
        caller = after[index]["caller"]
        if before[index]["caller"] != caller:
            raise RuntimeError(f"client {index} was a different caller before and after the run")
        replied[caller] += tally.reply_tokens
    seen = set()
    for index in tallies:
        caller = after[index]["caller"]
        if caller not in seen:  # clients that share a caller (one key) share its counters
            seen.add(caller)
            recorded[caller] = after[index]["tokens_today"] - before[index]["tokens_today"]
    return [CallerCheck(caller, recorded[caller], replied[caller]) for caller in sorted(seen)]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def run(url: str, clients: int, seconds: float, max_requests: int, api_key: str | None, out: TextIO) -> int:
    pool = [Client(url, index, api_key) for index in range(clients)]
    before = {client.index: client.usage() for client in pool}
    tallies = {client.index: Tally() for client in pool}
    budget = Budget(seconds, max_requests)
    started = time.monotonic()
    threads = [
        threading.Thread(target=drive, args=(client, budget, tallies[client.index])) for client in pool
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    after = {client.index: client.usage() for client in pool}
    for client in pool:
        client.close()

    latencies = [value for tally in tallies.values() for value in tally.latencies_ms]
    statuses: Counter[int] = sum((tally.statuses for tally in tallies.values()), Counter())
    errors: Counter[str] = sum((tally.errors for tally in tallies.values()), Counter())
    cache_hits = sum(tally.cache_hits for tally in tallies.values())
    unaccounted = sum(tally.unaccounted for tally in tallies.values())
    done = len(latencies) + sum(errors.values())
    print(f"make load: {clients} clients against {url} for {elapsed:.1f} s", file=out)
    print(
        f"requests: {done} ({done / elapsed:.1f}/s); latency p50 {percentile(latencies, 0.5):.1f} ms, "
        f"p99 {percentile(latencies, 0.99):.1f} ms (mean {statistics.fmean(latencies or [0]):.1f} ms)",
        file=out,
    )
    print(
        "statuses: " + (", ".join(f"{code}: {count}" for code, count in sorted(statuses.items())) or "none"),
        f"; errors: {sum(errors.values())}" + (f" ({dict(errors)})" if errors else ""),
        f"; cache hits: {cache_hits}",
        sep="",
        file=out,
    )
    checks = check_usage(before, after, tallies)
    recorded = sum(check.recorded_tokens for check in checks)
    replied = sum(check.reply_tokens for check in checks)
    holds = all(check.holds for check in checks) and unaccounted == 0 and statuses[200] > 0
    print(
        f"usage: {len(checks)} callers; recorded today {recorded} tokens, replies (not cache hits) "
        f"{replied} tokens (charged as reported): "
        + ("nothing lost, nothing counted twice" if holds else "DOES NOT HOLD"),
        file=out,
    )
    for check in checks:
        if not check.holds:
            print(
                f"  {check.caller}: recorded {check.recorded_tokens}, replies {check.reply_tokens}", file=out
            )
    if unaccounted:
        print(f"  {unaccounted} replies carried no usage figure", file=out)
    if not statuses[200]:
        print("  no request succeeded: nothing was proven", file=out)
    return 0 if holds else 1


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="a running gateway (default: start `make run` with generous limits)")
    parser.add_argument("--api-key", help="client key for a gateway with AUTH_MODE=keys (then one caller)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--requests", type=int, default=5000, help="at most this many requests in all")
    args = parser.parse_args(argv)
    with _gateway(args.url) as url:
        return run(url, args.clients, args.seconds, args.requests, args.api_key, out)


@contextlib.contextmanager
def _gateway(url: str | None) -> Iterator[str]:
    if url:
        yield url.rstrip("/")
        return
    with local_gateway() as started:
        yield started


if __name__ == "__main__":
    sys.exit(main())

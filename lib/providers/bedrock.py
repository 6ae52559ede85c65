"""Amazon Bedrock through boto3's `bedrock-runtime` Converse and ConverseStream APIs, with the function's
IAM role (no key).

The whole call (for a stream: until its first piece) fits the one `Deadline`, as with HTTP providers:
- Each attempt takes a client whose timeouts end within what is left (bedrock_clients.py).
- botocore's own retries are off. Throttling, unavailability, a model not ready and connection failures
  are retried here with backoff and jitter, and only while the backoff ends before the deadline.
- Failures are UpstreamError (502) naming Bedrock's error code, never its message, which can quote the
  request; a deadline that ran out is UpstreamTimeout (504).
- A stream's client also has a read timeout no longer than the idle gap (STREAM_IDLE_TIMEOUT_S); its
  events are read in converse_stream.py.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from lib.core.pieces import StreamPiece
from lib.core.request import ModelRequest
from lib.keys.sources import KeySource
from lib.platform.deadline import Deadline
from lib.platform.errors import (
    InvalidRequest,
    NotConfigured,
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
)
from lib.platform.route_table import Route
from lib.providers import bedrock_embeddings, converse, converse_reply, converse_stream, json_mode_tool
from lib.providers.base import ProviderContext
from lib.providers.bedrock_clients import ClientsByTimeout
from lib.providers.call_stats import CallStats
from lib.providers.upstream_body import AttemptFailed
from lib.providers.upstream_signals import backoff_delay
from lib.providers.upstream_stream import StreamFault, StreamLimits

# Converse has no seed (converse.py refuses one): CACHE_MODE=seeded never caches this provider.
HONOURS_SEED = False
_RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "InternalServerException",
        "ModelNotReadyException",
    }
)
_REFUSED_REQUEST_CODE = (
    "ValidationException"  # lib/platform/errors.py UpstreamRejected; other refusals are 502s
)
_NAMES_THE_MODEL = re.compile(r"\bmodel (identifier|id)\b", re.IGNORECASE)
# botocore names the parameter in both "Invalid type for parameter x.y" and "Unknown parameter in
# input: "outputConfig"" (an older botocore than the fields build() sends, e.g. the Lambda runtime's).
_PARAMETER = re.compile(r"parameter (?:in input: )?\"?([A-Za-z0-9_.\[\]]{1,120})")
T = TypeVar("T")


class BedrockProvider:
    def __init__(
        self,
        route: Route,
        clients: ClientsByTimeout,
        *,
        max_retries: int = 3,
        backoff_base_s: float = 0.25,
        backoff_cap_s: float = 4.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.route = route
        self._clients = clients
        self._max_retries = max_retries
        self._backoff_base_s = backoff_base_s
        self._backoff_cap_s = backoff_cap_s
        self._sleep = sleep
        self._jitter = jitter
        self._clock = clock

    def check(self, request: ModelRequest) -> None:
        if request.kind == "embeddings":
            bedrock_embeddings.bodies(request, self.route)
        else:
            converse.build(request, self.route)

    def complete(self, request: ModelRequest, deadline: Deadline, stats: CallStats) -> dict[str, Any]:
        if request.kind == "embeddings":
            return self._embed(request, deadline, stats)
        arguments = converse.build(request, self.route)

        def converse_once(client: Any) -> dict[str, Any]:
            response: dict[str, Any] = client.converse(**arguments)
            stats.last_status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 200)
            return response

        started = self._clock()
        try:
            response = self._with_retries(converse_once, deadline, stats)
        finally:
            stats.latency_ms = (self._clock() - started) * 1000
        try:
            return json_mode_tool.as_text(converse_reply.parse(response, request, self.route), request)
        except UpstreamError:
            stats.maybe_billed = True  # Bedrock answered (and billed) what we could not use
            raise

    def _embed(self, request: ModelRequest, deadline: Deadline, stats: CallStats) -> dict[str, Any]:
        """InvokeModel once per batch of inputs (bedrock_embeddings.py), each call with `complete`'s
        deadline, retries and backoff."""
        readings = []
        started = self._clock()
        try:
            for body in bedrock_embeddings.bodies(request, self.route):

                def invoke_once(client: Any, body: dict[str, Any] = body) -> bedrock_embeddings.Reading:
                    response = client.invoke_model(
                        modelId=self.route.model,
                        body=json.dumps(body),
                        contentType="application/json",
                        accept="application/json",
                    )
                    stats.last_status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 200)
                    try:
                        return bedrock_embeddings.read(response)
                    except UpstreamError:
                        stats.maybe_billed = True  # Bedrock answered (and billed) what we could not use
                        raise

                readings.append(self._with_retries(invoke_once, deadline, stats))
            answer = bedrock_embeddings.answer(readings, request, self.route)
        except UpstreamError:
            stats.maybe_billed = stats.maybe_billed or bool(readings)  # the calls that answered were billed
            raise
        finally:
            stats.latency_ms = (self._clock() - started) * 1000
        return answer

    def open_stream(
        self, request: ModelRequest, deadline: Deadline, stats: CallStats, limits: StreamLimits
    ) -> Iterator[StreamPiece]:
        """ConverseStream's pieces as the model writes them, once the first is in. Until then it is
        `complete`'s call (same arguments, deadline, retries and backoff; an exception event or a break
        before the first piece is a failed attempt); after it, a break is a StreamFault."""
        arguments = converse.build(request, self.route)

        def stream_once(client: Any) -> Iterator[StreamPiece]:
            response = client.converse_stream(**arguments)
            stats.last_status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 200)
            try:
                return converse_stream.open_pieces(response["stream"], deadline, limits)
            except StreamFault as fault:
                code = getattr(fault, "code", None)
                # An exception event before the first piece is Bedrock refusing, as a ClientError is;
                # a read that broke may have cost an answer we never read.
                stats.maybe_billed = stats.maybe_billed or code is None
                raise AttemptFailed(
                    f"the stream broke before its first event ({code or fault.kind})",
                    retryable=code is None or code in _RETRYABLE_CODES,
                    timed_out=fault.kind == "idle",
                    refused=code == _REFUSED_REQUEST_CODE,
                ) from None

        started = self._clock()
        try:
            pieces = self._with_retries(stream_once, deadline, stats, longest_wait_s=limits.idle_s)
            return json_mode_tool.as_text_pieces(pieces, request)
        finally:
            stats.latency_ms = (self._clock() - started) * 1000

    def _with_retries(
        self,
        attempt: Callable[[Any], T],
        deadline: Deadline,
        stats: CallStats,
        longest_wait_s: float | None = None,
    ) -> T:
        """`attempt(client)` until it succeeds, retrying what may pass within the deadline."""
        from botocore.exceptions import BotoCoreError, ClientError, NoRegionError, ParamValidationError

        retries_left = self._max_retries
        while True:
            client = self._clients.within(deadline, longest_wait_s)
            if client is None:
                raise self._gave_up(None, deadline, stats)
            stats.attempts += 1
            try:
                return attempt(client)
            except AttemptFailed as exc:
                failure = exc
            except ParamValidationError as exc:
                # botocore's own check of the arguments: a limit build() does not know. Its text quotes
                # values, so only the parameter's name is kept.
                found = _PARAMETER.search(str(exc))
                where = f" ({found.group(1)})" if found else ""
                raise InvalidRequest(
                    f"the request does not fit Bedrock's Converse API for route {self.route.name!r}{where}",
                    code="unsupported_parameter",
                ) from None
            except NoRegionError:
                raise NotConfigured("Bedrock needs an AWS region: set AWS_REGION") from None
            except (ClientError, BotoCoreError) as exc:
                failure = _attempt_failure(exc, stats)
            if not failure.retryable or retries_left <= 0:
                raise self._gave_up(failure, deadline, stats)
            delay = self._backoff(self._max_retries - retries_left)
            if delay >= deadline.remaining():
                # A timeout whose retry no longer fits is the deadline's doing, though a sliver of it
                # may be left (each attempt's timeouts are rounded down).
                raise self._gave_up(failure, deadline, stats, out_of_time=failure.timed_out)
            retries_left -= 1
            stats.retries += 1
            self._sleep(delay)

    def _gave_up(
        self,
        failure: AttemptFailed | None,
        deadline: Deadline,
        stats: CallStats,
        *,
        out_of_time: bool = False,
    ) -> Exception:
        """`failure` None: not even a first or next attempt fits in what is left."""
        if failure is None or out_of_time or deadline.expired():
            return UpstreamTimeout(
                f"Bedrock did not answer route {self.route.name!r} within {deadline.seconds:g} s"
            )
        route = self.route.name
        if failure.refused:
            return UpstreamRejected(f"Bedrock refused the request for route {route!r}: {failure.reason}")
        return UpstreamError(
            f"Bedrock failed for route {route!r} after {stats.attempts} attempt(s): {failure.reason}"
        )

    def _backoff(self, retry_number: int) -> float:
        return backoff_delay(retry_number, self._backoff_base_s, self._backoff_cap_s, self._jitter)


def _attempt_failure(exc: Exception, stats: CallStats) -> AttemptFailed:
    from botocore.exceptions import (
        ClientError,
        ConnectionError,
        ConnectTimeoutError,
        HTTPClientError,
        ReadTimeoutError,
    )

    if isinstance(exc, ClientError):
        stats.last_status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = converse_reply.error_code(exc)
        if code != _REFUSED_REQUEST_CODE:
            return AttemptFailed(code, retryable=code in _RETRYABLE_CODES)
        # "The provided model identifier is invalid" is the route's model id, the deployment's to fix.
        # (The message is only matched here, never repeated: it can quote the request.)
        if _NAMES_THE_MODEL.search(str(exc.response.get("Error", {}).get("Message"))):
            return AttemptFailed(f"{code} (model id)", retryable=False)
        return AttemptFailed(code, retryable=False, refused=True)
    if isinstance(exc, ConnectTimeoutError):
        return AttemptFailed("timed out connecting", retryable=True, timed_out=True)
    if isinstance(exc, ReadTimeoutError):
        stats.maybe_billed = True  # the model may have generated (and billed) an answer we never read
        return AttemptFailed("timed out", retryable=True, timed_out=True)
    if isinstance(exc, ConnectionError | HTTPClientError):
        return AttemptFailed(f"connection failed ({type(exc).__name__})", retryable=True)
    return AttemptFailed(type(exc).__name__, retryable=False)  # e.g. NoCredentialsError


def create(route: Route, key_source: KeySource | None, context: ProviderContext) -> BedrockProvider:
    """Bedrock authenticates with the function's role: `key_source` is unused. Clients are built here,
    not by `context.aws_client`, because their timeouts must follow each request's deadline."""
    return BedrockProvider(route, ClientsByTimeout(), max_retries=context.max_retries)

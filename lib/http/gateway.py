"""The one core both entry points share: an API Gateway v2 event in, status, headers and body out.

The body is an iterator of bytes: one piece for an ordinary answer, the events of a stream as the
model writes them. The Lambda handler behind the HTTP API joins it (API Gateway cannot stream); the
HTTP server (`make run`, and the streaming Function URL behind the Lambda Web Adapter) writes each
piece as it comes. Either way the access line and metrics are written once, when the body is done,
so a stream's line has its real usage, and a caller that goes away still gets its request counted.

Every body and header leaves through here, so this is where every key value the gateway holds is
scrubbed from them, whatever the caller's format (lib/platform/redaction.py); the log handler gets
the same scrubbing as a filter.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from lib.http.events import seconds_since_arrival
from lib.http.route_stages import ANSWER_MARGIN_S, ARRIVAL_LIMIT_S, LAMBDA_SAFETY_MARGIN_S
from lib.platform.redaction import LogScrubber, StreamScrubber, scrub_bytes, scrub_text
from lib.stages import telemetry


class GatewayResponse(NamedTuple):
    status: int
    headers: dict[str, str]
    cookies: list[str]
    body: Iterator[bytes]  # close() it if it is not read to the end (WSGI servers do)
    length: int | None  # the whole body's size; None for a stream (its end is not known yet)


class Gateway:
    def __init__(self, app: Callable[[], APIGatewayHttpResolver], logger: Logger, metrics: Metrics) -> None:
        self._app = app  # the resolver for this request (lib.http.app.get_app: built once per configuration)
        self._logger = logger
        self._metrics = metrics
        log_handler = logger.registered_handler  # every line goes through it, the child loggers' too
        if not any(isinstance(existing, LogScrubber) for existing in log_handler.filters):
            log_handler.addFilter(LogScrubber())

    def handle(self, event: dict[str, Any], context: Any, *, flush_metrics: bool = False) -> GatewayResponse:
        record = telemetry.RequestRecord.start(event)
        app = self._app()
        app.append_context(record=record)
        response = app.resolve(event, context)
        status = int(response.get("statusCode", 500))
        headers = {str(name): str(value) for name, value in (response.get("headers") or {}).items()}
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers[str(name)] = ", ".join(str(value) for value in values)
        headers.update(record.response_headers)  # what the stages tell the caller beside the body (x-cache)
        headers = {name: scrub_text(value) for name, value in headers.items()}
        cookies = [scrub_text(str(cookie)) for cookie in response.get("cookies") or []]
        stream = record.stream_body if status == 200 else None
        if stream is None:
            raw = response.get("body") or ""
            data = base64.b64decode(raw) if response.get("isBase64Encoded") else str(raw).encode("utf-8")
            data = scrub_bytes(data)
            body: Iterator[bytes] = iter([data])
            length: int | None = len(data)
            self._finish(record, status, flush_metrics)
        else:
            body, length = self._finishing(stream, record, status, flush_metrics), None
        return GatewayResponse(status, headers, cookies, body, length)

    def lambda_response(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """The API Gateway (payload v2) response: the whole body, streams included, in one piece."""
        answer = self.handle(event, HttpApiContext(context, event))
        data = b"".join(answer.body)
        response: dict[str, Any] = {
            "statusCode": answer.status,
            "headers": answer.headers,
            "body": data.decode("utf-8"),
            "isBase64Encoded": False,
        }
        if answer.cookies:
            response["cookies"] = answer.cookies
        return response

    def _finishing(
        self, stream: Iterator[bytes], record: telemetry.RequestRecord, status: int, flush_metrics: bool
    ) -> Iterator[bytes]:
        scrubber = StreamScrubber()
        try:
            for piece in stream:
                scrubbed = scrubber.feed(piece)
                if scrubbed:
                    yield scrubbed
            rest = scrubber.flush()
            if rest:
                yield rest
        finally:
            close = getattr(stream, "close", None)
            if callable(close):
                close()  # a caller that went away: the stream stops reading and settles
            self._finish(record, status, flush_metrics)

    def _finish(self, record: telemetry.RequestRecord, status: int, flush_metrics: bool) -> None:
        telemetry.finish(record, status, self._logger, self._metrics)
        if flush_metrics:
            self._metrics.flush_metrics()  # outside Lambda's handler decorator, each request flushes its own


class HttpApiContext:
    """The Lambda context of a request through the HTTP API, whose body is joined (streams included)
    and which API Gateway cuts ARRIVAL_LIMIT_S after the request arrived, however much the Lambda has
    left. So the time it reports left ends with the answer budget counted from the arrival (plus the
    safety margin lib/http/route_stages.py takes off it again): a stream stops where a whole answer's
    deadline does, with its error event, and still settles and answers in time."""

    def __init__(self, context: Any, event: dict[str, Any]) -> None:
        self._context = context
        budget_s = ARRIVAL_LIMIT_S - ANSWER_MARGIN_S - seconds_since_arrival(event, ARRIVAL_LIMIT_S)
        self._answer_by = time.monotonic() + budget_s + LAMBDA_SAFETY_MARGIN_S

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def get_remaining_time_in_millis(self) -> int:
        left_ms = int((self._answer_by - time.monotonic()) * 1000)
        own = getattr(self._context, "get_remaining_time_in_millis", None)
        if callable(own):
            left_ms = min(left_ms, int(own()))
        return max(0, left_ms)

"""API Gateway HTTP API (payload format 2.0) events, shaped like `sam local generate-event
apigateway http-api-proxy`, built from an HTTP request: by the HTTP server (`make run`, and the
streaming Function URL behind the Lambda Web Adapter) and by the tests.

Behind the adapter the socket peer is 127.0.0.1; the caller's source IP, the request's arrival
time and id come from its `x-amzn-request-context` header, and the function's deadline from
`x-amzn-lambda-context`. Those headers are believed only there: the adapter sets them itself,
replacing any a client sent, and the server it forwards to marks each request (`BEHIND_ADAPTER`, set
by lib/http/wsgi.py's `serve_on_adapter_port`). Anywhere else (`make run`) a client could send its
own and choose its source IP: there they are ignored, and the socket's peer is the caller.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

_TEXT_TYPES = ("application/json", "text/", "application/x-www-form-urlencoded")


def http_api_event(
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: Iterable[tuple[str, str]] = (),
    query: str = "",
    source_ip: str = "127.0.0.1",
    arrived_ms: int | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    header_map: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        lowered = name.lower()  # API Gateway lower-cases header names and joins repeats with commas
        if lowered == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        header_map[lowered] = f"{header_map[lowered]},{value}" if lowered in header_map else value
    content_type = header_map.get("content-type", "")
    is_text = body is not None and content_type.startswith(_TEXT_TYPES)
    if body:
        encoded_body: str | None = (
            body.decode("utf-8", errors="replace") if is_text else base64.b64encode(body).decode()
        )
    else:
        encoded_body = None
    now = arrived_ms / 1000 if arrived_ms is not None else time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": header_map,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": header_map.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": method.upper(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": header_map.get("user-agent", ""),
            },
            "requestId": request_id or uuid.uuid4().hex,
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": bool(body) and not is_text,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        pairs = (part.partition("=") for part in query.split("&") if part)
        event["queryStringParameters"] = {name: value for name, _, value in pairs}
    if encoded_body is not None:
        event["body"] = encoded_body
    return event


def seconds_since_arrival(event: Mapping[str, Any], limit_s: float) -> float:
    """Seconds since API Gateway or the Function URL received the request (`requestContext.timeEpoch`,
    a cold start included).

    0 when the event says nothing usable: no timeEpoch, or one no live request can carry (over
    `limit_s` ago: a saved event replayed with `make invoke`, a clock far off), since those would only
    cut a healthy request.
    """
    context = event.get("requestContext") or {}
    epoch_ms = context.get("timeEpoch") if isinstance(context, Mapping) else None
    if isinstance(epoch_ms, bool) or not isinstance(epoch_ms, int | float):
        return 0.0
    waited = time.time() - epoch_ms / 1000
    return waited if 0.0 < waited < limit_s else 0.0


ADAPTER_REQUEST_CONTEXT = "x-amzn-request-context"
ADAPTER_LAMBDA_CONTEXT = "x-amzn-lambda-context"
# The WSGI environ key that says the request came through the Lambda Web Adapter (no header can set it).
BEHIND_ADAPTER = "modelgate.behind_adapter"


def event_from_wsgi(environ: Mapping[str, Any], body: bytes | None) -> dict[str, Any]:
    """The event for one WSGI request (headers as sent, source IP and arrival from the adapter's
    request context behind the adapter, from the socket elsewhere)."""
    headers = [
        (name[5:].replace("_", "-").lower(), str(value))
        for name, value in environ.items()
        if name.startswith("HTTP_")
    ]
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(name):
            headers.append((name.replace("_", "-").lower(), str(environ[name])))
    adapter = _json_header(environ, ADAPTER_REQUEST_CONTEXT)
    http = adapter.get("http") if isinstance(adapter.get("http"), dict) else {}
    assert isinstance(http, dict)
    source_ip = http.get("sourceIp") if isinstance(http.get("sourceIp"), str) else None
    arrived = adapter.get("timeEpoch")
    request_id = adapter.get("requestId")
    adapter_headers = (ADAPTER_REQUEST_CONTEXT, ADAPTER_LAMBDA_CONTEXT)
    return http_api_event(
        str(environ.get("REQUEST_METHOD", "GET")),
        str(environ.get("PATH_INFO", "/")) or "/",
        body=body,
        headers=[(name, value) for name, value in headers if name not in adapter_headers],
        query=str(environ.get("QUERY_STRING", "")),
        source_ip=source_ip or str(environ.get("REMOTE_ADDR", "127.0.0.1")),
        arrived_ms=arrived if isinstance(arrived, int) and not isinstance(arrived, bool) else None,
        request_id=request_id if isinstance(request_id, str) else None,
    )


def context_from_wsgi(environ: Mapping[str, Any]) -> LambdaContext:
    """The function's context behind the adapter (its deadline), or a local one with no deadline."""
    lambda_context = _json_header(environ, ADAPTER_LAMBDA_CONTEXT)
    deadline_ms = lambda_context.get("deadline")
    if isinstance(deadline_ms, int) and not isinstance(deadline_ms, bool):
        timeout_s = deadline_ms / 1000 - time.time()
    else:
        timeout_s = 900.0  # the longest a Lambda function may run: no tighter bound is known locally
    env_config = (
        lambda_context.get("env_config") if isinstance(lambda_context.get("env_config"), dict) else {}
    )
    assert isinstance(env_config, dict)
    name = env_config.get("function_name")
    request_id = lambda_context.get("request_id")
    context = LambdaContext(
        function_name=name if isinstance(name, str) else "modelgate-stream", timeout_s=timeout_s
    )
    if isinstance(request_id, str):
        context.aws_request_id = request_id
    return context


def _json_header(environ: Mapping[str, Any], name: str) -> dict[str, Any]:
    """One of the adapter's JSON headers, or {} when absent, malformed or not from the adapter."""
    raw = environ.get("HTTP_" + name.upper().replace("-", "_"))
    if not raw or environ.get(BEHIND_ADAPTER) is not True:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class LambdaContext:
    """What the Lambda runtime passes as `context`, with a real countdown of the function timeout."""

    def __init__(self, function_name: str = "modelgate-api", timeout_s: float = 30.0) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.memory_limit_in_mb = 256
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

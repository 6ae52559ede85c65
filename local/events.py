"""API Gateway HTTP API (payload format 2.0) events, shaped like `sam local generate-event
apigateway http-api-proxy`, built from an HTTP request."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterable
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
    now = time.time()
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
            "requestId": uuid.uuid4().hex,
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

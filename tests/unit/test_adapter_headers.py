"""Issue 21, hardening item 3: the Lambda Web Adapter's headers are believed only from the server the
adapter forwards to, never from a client of `make run`."""

from __future__ import annotations

import io
import json

from lib.http.events import BEHIND_ADAPTER, context_from_wsgi, event_from_wsgi

FORGED = {"requestId": "forged-1", "timeEpoch": 1_000, "http": {"sourceIp": "203.0.113.9"}}
DEADLINE = {"deadline": 1_000, "request_id": "forged-2", "env_config": {"function_name": "forged"}}


def environ(**extra):
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/v1/usage",
        "REMOTE_ADDR": "192.0.2.7",
        "wsgi.input": io.BytesIO(b""),
        "HTTP_X_AMZN_REQUEST_CONTEXT": json.dumps(FORGED),
        "HTTP_X_AMZN_LAMBDA_CONTEXT": json.dumps(DEADLINE),
        **extra,
    }


def test_without_the_adapter_a_client_s_request_context_is_ignored():
    # Given a request to `make run` that carries its own adapter headers
    event = event_from_wsgi(environ(), None)
    context = context_from_wsgi(environ())
    # Then the caller is the socket's peer, the arrival and ids are the server's own, and the headers
    # reach no route
    http = event["requestContext"]["http"]
    assert http["sourceIp"] == "192.0.2.7"
    assert event["requestContext"]["requestId"] != "forged-1"
    assert event["requestContext"]["timeEpoch"] > 1_000
    assert "x-amzn-request-context" not in event["headers"]
    assert "x-amzn-lambda-context" not in event["headers"]
    assert context.aws_request_id != "forged-2" and context.get_remaining_time_in_millis() > 60_000


def test_behind_the_adapter_its_request_context_is_the_request_s():
    marked = environ(**{BEHIND_ADAPTER: True})
    event = event_from_wsgi(marked, None)
    context = context_from_wsgi(marked)
    assert event["requestContext"]["http"]["sourceIp"] == "203.0.113.9"
    assert event["requestContext"]["requestId"] == "forged-1"
    assert context.aws_request_id == "forged-2" and context.function_name == "forged"


def test_a_header_cannot_set_the_mark():
    # (WSGI puts every header under HTTP_*: no header name becomes the mark's key)
    forged = environ(HTTP_MODELGATE_BEHIND_ADAPTER="1", **{"HTTP_MODELGATE.BEHIND_ADAPTER": "1"})
    assert event_from_wsgi(forged, None)["requestContext"]["http"]["sourceIp"] == "192.0.2.7"

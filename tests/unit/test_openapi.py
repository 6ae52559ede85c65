"""`GET /openapi.json`: the committed document is current, describes every route, and serving it
imports no pydantic (the generator needs it; the Lambda's cold path must not)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lib.http.routes import ALLOWED_METHODS, OPENAPI_FILE
from tests.conftest import call
from tools import openapi

REPO = Path(__file__).resolve().parents[2]


def test_the_committed_document_is_what_make_openapi_writes():
    assert OPENAPI_FILE.read_text(encoding="utf-8") == openapi.render(), (
        "lib/http/openapi.json is stale: run make openapi and commit it"
    )


def test_the_gateway_serves_it_with_every_route_and_the_request_bodies(gateway_env):
    reply = call("GET", "/openapi.json")
    assert reply.status == 200 and reply.headers["content-type"] == "application/json"
    document = reply.json
    assert document["openapi"].startswith("3.1")
    for path, methods in ALLOWED_METHODS.items():
        operations = document["paths"][path.replace("<", "{").replace(">", "}")]
        assert {method.lower() for method in methods} <= set(operations)
    schemas = document["components"]["schemas"]
    for path, body in [
        ("/api/generate", "GenerateRequest"),
        ("/v1/chat/completions", "ChatCompletionRequest"),
        ("/v1/completions", "CompletionRequest"),
    ]:
        request_body = document["paths"][path]["post"]["requestBody"]
        assert request_body["content"]["application/json"]["schema"]["$ref"].endswith(f"/{body}")
        assert schemas[body]["properties"]
    assert schemas["ChatCompletionRequest"]["required"] == ["messages"]
    assert set(schemas["ErrorDetail"]["required"]) == {"message", "type", "code", "param"}
    errors = document["paths"]["/v1/chat/completions"]["post"]["responses"]["429"]
    assert errors["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorReply")


def test_serving_it_imports_no_pydantic():
    script = (
        "import sys, json\n"
        "from local.events import LambdaContext, http_api_event\n"
        "import handler\n"
        "reply = handler.api_handler(http_api_event('GET', '/openapi.json'), LambdaContext())\n"
        "assert reply['statusCode'] == 200 and json.loads(reply['body'])['paths'], reply\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'pydantic'))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "POWERTOOLS_SERVICE_NAME": "modelgate", "AUTH_MODE": "none"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_a_post_route_without_a_described_body_stops_the_generator(monkeypatch):
    monkeypatch.setitem(ALLOWED_METHODS, "/v1/new-thing", {"POST"})
    with pytest.raises(SystemExit, match="POST /v1/new-thing"):
        openapi.build_document()


def test_check_mode_fails_on_a_stale_file(tmp_path, monkeypatch):
    stale = tmp_path / "openapi.json"
    stale.write_text(json.dumps({"openapi": "3.1.0"}))
    monkeypatch.setattr(openapi, "OPENAPI_FILE", stale)
    monkeypatch.setattr(sys, "argv", ["openapi", "--check"])
    with pytest.raises(SystemExit, match="stale"):
        openapi.main()

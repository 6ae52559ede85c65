"""Per-route keys from SSM and Secrets Manager (moto), their failures, and rotating a route's key."""

from __future__ import annotations

import json

import boto3
import pytest
import requests
from moto import mock_aws

from lib import services
from lib.rotation import steps as rotation
from lib.rotation.errors import RotationError
from lib.rotation.issuers import KeyPoolIssuer
from lib.rotation.key_check import key_tester
from lib.rotation.steps import Rotation
from tests.conftest import call
from tests.integration.test_routing import write_routes

PARAMETER = "/modelgate/test-stack/deepseek"
SECRET = "modelgate/test-stack/qwen"
KEY_SSM = "sk-route-key-from-ssm-0123456789"
KEY_SECRET = "sk-route-key-from-secret-012345"
KEY_NEXT = "sk-route-key-next-in-pool-01234"

ROUTES = """
[[route]]
name = "deepseek"
provider = "openai"
endpoint = "{url}"
model = "deepseek-chat"
key = "ssm:{parameter}"
fallbacks = ["qwen"]

[[route]]
name = "qwen"
provider = "openai"
endpoint = "{url}"
model = "qwen-plus"
key = "secret:{secret}"
"""


@pytest.fixture
def stores(gateway_env, upstream, tmp_path):
    with mock_aws():
        ssm = boto3.client("ssm", region_name="us-east-1")
        secrets = boto3.client("secretsmanager", region_name="us-east-1")
        ssm.put_parameter(
            Name=PARAMETER,
            Type="SecureString",
            Value=json.dumps({"api_key": KEY_SSM, "spare_keys": [KEY_NEXT]}),
        )
        secrets.create_secret(Name=SECRET, SecretString=KEY_SECRET)
        routes = ROUTES.format(url=upstream.base_url, parameter=PARAMETER, secret=SECRET)
        gateway_env.setenv("ROUTES_FILE", write_routes(tmp_path, routes))
        services.reset()
        yield ssm, secrets


def sent_keys(upstream):
    return [sent.headers["Authorization"].removeprefix("Bearer ") for sent in upstream.received]


def test_each_route_sends_its_own_stored_key(stores, upstream):
    assert call("POST", "/api/generate", {"prompt": "p", "model": "deepseek"}).status == 200
    assert call("POST", "/api/generate", {"prompt": "p", "model": "qwen"}).status == 200
    assert sent_keys(upstream) == [KEY_SSM, KEY_SECRET]


def test_a_route_whose_key_cannot_be_read_fails_over(stores, upstream, output):
    ssm, _ = stores
    ssm.delete_parameter(Name=PARAMETER)
    reply = call("POST", "/api/generate", {"prompt": "p", "model": "deepseek"})
    assert reply.status == 200 and reply.json["model"] == "qwen"
    assert sent_keys(upstream) == [KEY_SECRET]
    assert output.access_lines()[-1]["failed_routes"] == ["deepseek:not_configured"]


def test_a_401_rereads_the_routes_key_once(stores, upstream):
    ssm, _ = stores
    assert call("POST", "/api/generate", {"prompt": "p", "model": "deepseek"}).status == 200
    ssm.put_parameter(
        Name=PARAMETER, Type="SecureString", Overwrite=True, Value=json.dumps({"api_key": KEY_NEXT})
    )
    upstream.valid_keys = {KEY_NEXT}  # the old key was revoked: the cached one is refused
    assert call("POST", "/api/generate", {"prompt": "p", "model": "deepseek"}).status == 200
    assert sent_keys(upstream)[-2:] == [KEY_SSM, KEY_NEXT]


class TestRotatingARouteKey:
    def rotation(self, ssm, session):
        return Rotation(
            "/modelgate/provider-key",
            "ssm",
            ssm,
            KeyPoolIssuer,
            key_tester("http://127.0.0.1:9/v1", session, 2),  # the stack's own key: not used here
            tester_for=lambda provider, endpoint: key_tester(endpoint, session, 2),
        )

    def test_the_event_names_the_parameter_provider_and_endpoint(self, stores, upstream):
        ssm, _ = stores
        event = {
            "action": "rotate",
            "parameter": PARAMETER,
            "provider": "openai",
            "endpoint": upstream.base_url,
        }
        assert rotation.handle(event, self.rotation(ssm, requests.Session()))["result"] == "done"
        stored = json.loads(ssm.get_parameter(Name=PARAMETER, WithDecryption=True)["Parameter"]["Value"])
        assert stored["api_key"] == KEY_NEXT and stored["previous_api_key"] == KEY_SSM
        tested = upstream.received[-1]
        assert (tested.method, tested.path) == ("GET", "/v1/models")
        assert tested.headers["Authorization"] == f"Bearer {KEY_NEXT}"

    def test_an_incomplete_route_event_is_refused(self, stores):
        ssm, _ = stores
        with pytest.raises(RotationError, match="parameter, provider and endpoint"):
            rotation.handle(
                {"action": "rotate", "parameter": PARAMETER}, self.rotation(ssm, requests.Session())
            )

    def test_the_real_rotation_function_knows_every_provider(self, gateway_env):
        gateway_env.setenv("AI_MODEL_SECRET_ID", "/modelgate/provider-key")
        gateway_env.setenv("AI_MODEL_KEY_STORE", "ssm")
        built = services.build_rotation()
        assert built.tester_for is not None
        with pytest.raises(RotationError, match="unknown provider 'nope'"):
            built.tester_for("nope", "https://example.invalid/v1")

"""`make smoke`: the built artifact (SMOKE_ARTIFACT) on the functions' Python (SMOKE_PYTHON, with boto3
and awslambdaric), against a moto server that holds the stack's table, key and client keys and then
enforces IAM: each function signs with a user whose policy is the template's for that function.

moto's server checks a policy's actions (not its resources or conditions: tests/unit/test_permissions.py
checks those against the template), after its first INITIAL_NO_AUTH_ACTION_COUNT calls; here the set-up
runs before authentication is turned on (POST /moto-api/reset-auth 0).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import boto3
import pytest
import requests

from tests.smoke.runtime_api import free_port
from tests.support.cfn import REGION, Stack
from tests.support.fake_upstream import FakeUpstream

if not os.environ.get("SMOKE_ARTIFACT"):
    collect_ignore_glob = ["test_*.py"]  # `make smoke` runs these, with the built artifact

TABLE = "modelgate-smoke"
PROVIDER_KEY = "sk-smoke-current-0000000000"
SPARE_KEY = "sk-smoke-spare-00000000000000"


class Aws(NamedTuple):
    endpoint: str
    stack: Stack
    credentials: dict[str, tuple[str, str]]  # function name or "admin" -> (access key id, secret)
    client_key: str
    limited_key: str  # a client key with a burst of one request
    secret_arn: str  # the provider key with KeyStore=secretsmanager
    secrets_stack: Stack  # the same stack with KeyStore=secretsmanager

    def client(self, service: str) -> Any:
        access, secret = self.credentials["admin"]
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id=access,
            aws_secret_access_key=secret,
        )


@pytest.fixture(scope="session")
def artifact() -> Path:
    return Path(os.environ["SMOKE_ARTIFACT"]).resolve()


@pytest.fixture(scope="session")
def lambda_python() -> Path:
    return Path(os.environ["SMOKE_PYTHON"]).absolute()


@pytest.fixture(scope="session")
def model() -> Iterator[FakeUpstream]:
    server = FakeUpstream(valid_keys={PROVIDER_KEY, SPARE_KEY}).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def aws(model: FakeUpstream) -> Iterator[Aws]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    stacks = [
        Stack(
            {"ModelEndpoint": model.base_url, "EnableStreaming": "true", "KeyStore": store},
            {"GatewayTable": TABLE},
        )
        for store in ("ssm", "secretsmanager")
    ]
    try:
        yield _set_up(endpoint, *stacks)
    finally:
        requests.post(f"{endpoint}/moto-api/reset-auth", data=b"inf", timeout=5)
        server.stop()


def _set_up(endpoint: str, stack: Stack, secrets_stack: Stack) -> Aws:
    def client(service: str) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=endpoint,
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )

    from lib.admin.client_keys import create_key
    from lib.platform.store import KeyRecords, Table
    from local.aws import create_table

    create_table(client("dynamodb"), TABLE)
    key_name = stack.environment("ApiFunction")["AI_MODEL_SECRET_ID"]
    value = json.dumps({"api_key": PROVIDER_KEY, "spare_keys": [SPARE_KEY]})
    client("ssm").put_parameter(Name=key_name, Value=value, Type="SecureString")
    secret_name = secrets_stack.resolve(
        secrets_stack.template["Resources"]["ProviderKeySecret"]["Properties"]["Name"]
    )
    secret_arn = client("secretsmanager").create_secret(Name=secret_name, SecretString=value)["ARN"]
    keys = {}
    records = KeyRecords(Table(client("dynamodb"), TABLE))
    for name, limits in (("smoke", {"rpm": None, "burst": None}), ("limited", {"rpm": 1, "burst": 1})):
        printed = _Printed()
        create_key(records, _Args(name=name, daily_tokens=None, **limits), printed)
        keys[name] = printed.key()
    iam = client("iam")
    credentials = {}
    policies = {
        name: _actions_only(stack.statements(name))
        for name in ("ApiFunction", "StreamFunction", "RotationFunction")
    }
    policies["RotationFunction-secretsmanager"] = _actions_only(secrets_stack.statements("RotationFunction"))
    policies["admin"] = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
    for name, statements in policies.items():
        iam.create_user(UserName=name)
        document = {"Version": "2012-10-17", "Statement": statements}
        iam.put_user_policy(UserName=name, PolicyName="template", PolicyDocument=json.dumps(document))
        created = iam.create_access_key(UserName=name)["AccessKey"]
        credentials[name] = (created["AccessKeyId"], created["SecretAccessKey"])
    # From here on every call is signed and checked against its user's policy.
    requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0", timeout=5).raise_for_status()
    return Aws(endpoint, stack, credentials, keys["smoke"], keys["limited"], secret_arn, secrets_stack)


def _actions_only(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The statements as moto can check them: it matches a statement's resources against "*" (it knows no
    call's resource), so each keeps its actions on any resource."""
    return [{"Effect": s["Effect"], "Action": s["Action"], "Resource": "*"} for s in statements]


class _Args:
    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


class _Printed:
    """What `keys create` prints, kept: the new key is printed once."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, text: str) -> None:
        self.lines.append(text)

    def key(self) -> str:
        text = "".join(self.lines)
        return next(line.split()[-1] for line in text.splitlines() if line.startswith("key:"))

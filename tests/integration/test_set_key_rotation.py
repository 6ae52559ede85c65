"""A Secrets Manager key's rotation is turned on by `make set-key`, never against the template's placeholder.

The stack creates the secret with a placeholder and no rotation schedule: Secrets Manager tests a new
rotation configuration at once (its testSecret step), which the placeholder would fail at deploy time.
"""

import io
import zipfile

import boto3
import pytest
from moto import mock_aws

from lib.admin import provider_key
from local.template import load_template

PLACEHOLDER = load_template()["Resources"]["ProviderKeySecret"]["Properties"]["SecretString"]
SECRET = "modelgate/modelgate/provider-key"
KEY = "sk-real-provider-key-0123456789abcdef"
SPARE = "sk-spare-provider-key-0123456789abcdef"


@pytest.fixture
def deployed(gateway_env):
    """What the stack leaves: the secret with its placeholder, and the rotation function."""
    with mock_aws(config={"lambda": {"use_docker": False}}):
        role = boto3.client("iam").create_role(RoleName="rotation", AssumeRolePolicyDocument="{}")["Role"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("handler.py", "def rotation_handler(event, context):\n    return {}\n")
        function = boto3.client("lambda").create_function(
            FunctionName="modelgate-rotation",
            Runtime="python3.12",
            Role=role["Arn"],
            Handler="handler.rotation_handler",
            Code={"ZipFile": code.getvalue()},
        )
        client = boto3.client("secretsmanager")
        arn = client.create_secret(Name=SECRET, SecretString=PLACEHOLDER)["ARN"]
        outputs = {
            "KeyStore": "secretsmanager",
            "ProviderKeyId": arn,
            "RotationFunctionName": "modelgate-rotation",
            "RotationFunctionArn": function["FunctionArn"],
            "RotationDays": "90",
        }
        yield client, outputs


def rotation_calls(client):
    calls = []
    client.meta.events.register("before-call.secrets-manager.RotateSecret", lambda **_: calls.append(1))
    return calls


def test_set_key_turns_rotation_on_with_the_stacks_function_and_days(deployed):
    client, outputs = deployed
    out = io.StringIO()
    assert provider_key.set_provider_key(outputs, lambda _: client, KEY, False, out) == 0
    described = client.describe_secret(SecretId=outputs["ProviderKeyId"])
    assert described["RotationEnabled"] and described["RotationLambdaARN"] == outputs["RotationFunctionArn"]
    assert described["RotationRules"]["AutomaticallyAfterDays"] == 90
    assert "rotation every 90 days turned on" in out.getvalue() and KEY not in out.getvalue()


def test_a_spare_added_to_the_placeholder_does_not_turn_rotation_on(deployed):
    client, outputs = deployed
    calls = rotation_calls(client)
    provider_key.set_provider_key(outputs, lambda _: client, SPARE, True, io.StringIO())
    assert calls == [] and not client.describe_secret(SecretId=outputs["ProviderKeyId"]).get(
        "RotationEnabled"
    )


def test_setting_the_key_again_leaves_the_rotation_as_it_is(deployed):
    client, outputs = deployed
    provider_key.set_provider_key(outputs, lambda _: client, KEY, False, io.StringIO())
    calls = rotation_calls(client)
    provider_key.set_provider_key(outputs, lambda _: client, SPARE, False, io.StringIO())
    assert calls == []

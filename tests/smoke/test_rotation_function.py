"""The rotation function from the artifact under awslambdaric, with the template's environment and IAM:
the schedule's event rotates the SSM key (the default KeyStore) to a spare, and Secrets Manager's four
steps rotate its secret (KeyStore=secretsmanager)."""

from __future__ import annotations

import json
import time

from tests.smoke.conftest import SPARE_KEY, Aws
from tests.smoke.runtime_api import Function, lambda_environment


def test_the_scheduled_rotation_moves_to_a_spare_key(aws: Aws, artifact, lambda_python):
    # Given the rotation function, started as Lambda starts it
    environment = {
        **aws.stack.environment("RotationFunction"),
        **lambda_environment("us-east-1", aws.credentials["RotationFunction"], aws.endpoint),
    }
    function = Function(lambda_python, artifact, "handler.rotation_handler", environment)
    schedule = aws.stack.resolve(
        aws.stack.template["Resources"]["RotationFunction"]["Properties"]["Events"]["RotateParameter"]
    )
    try:
        # When the schedule's event arrives
        kind, reply = function.invoke(json.loads(schedule["Properties"]["Input"]))
    finally:
        function.stop()
    # Then the stored key is the spare, which the model API accepted first
    assert kind == "response", f"{reply}\n{function.output()[-3000:]}"
    name = environment["AI_MODEL_SECRET_ID"]
    stored = json.loads(aws.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
    assert stored["api_key"] == SPARE_KEY
    assert '"message":"store error"' not in function.output()


def test_secrets_managers_four_steps_move_the_secret_to_a_spare_key(aws: Aws, artifact, lambda_python):
    # Given the rotation function of a KeyStore=secretsmanager stack, told its secret's ARN as the
    # template tells it (!Ref ProviderKeySecret)
    environment = {
        **aws.secrets_stack.environment("RotationFunction"),
        "AI_MODEL_SECRET_ID": aws.secret_arn,
        **lambda_environment("us-east-1", aws.credentials["RotationFunction-secretsmanager"], aws.endpoint),
    }
    # And what Secrets Manager does before it invokes the function: rotation on, a version staged
    # AWSPENDING (moto's server runs in this process; it cannot invoke a function itself)
    token = start_rotation(aws.secret_arn)
    function = Function(lambda_python, artifact, "handler.rotation_handler", environment)
    try:
        # When it is invoked for each step, in order
        for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
            kind, reply = function.invoke(
                {"SecretId": aws.secret_arn, "ClientRequestToken": token, "Step": step}
            )
            assert kind == "response", f"{step}: {reply}\n{function.output()[-3000:]}"
    finally:
        function.stop()
    # Then the current version holds the spare key
    secret = aws.client("secretsmanager").get_secret_value(SecretId=aws.secret_arn, VersionStage="AWSCURRENT")
    assert json.loads(secret["SecretString"])["api_key"] == SPARE_KEY


def start_rotation(arn: str, token: str = "00000000-0000-4000-8000-0000000000aa") -> str:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.secretsmanager.models import secretsmanager_backends

    backend = secretsmanager_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    secret = next(secret for secret in backend.secrets.values() if secret.arn == arn)
    secret.rotation_requested = secret.rotation_enabled = True
    secret.versions[token] = {
        "createdate": int(time.time()),
        "version_id": token,
        "version_stages": ["AWSPENDING"],
    }
    return token

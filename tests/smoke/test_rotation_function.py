"""The rotation function from the artifact under awslambdaric: the schedule's event rotates the SSM key
(the default KeyStore) to a spare, with the template's environment and IAM."""

from __future__ import annotations

import json

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

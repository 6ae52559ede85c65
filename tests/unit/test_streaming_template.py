"""The streaming Function URL as CloudFormation gets it: the template after SAM's own transform."""

from __future__ import annotations

import os

from lib.http.wsgi import READY_PATH
from tests.unit.test_deploy import transformed  # noqa: F401 - the module-scoped fixture

STREAMING_VARIABLES = {
    "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",  # the adapter's bootstrap runs the handler script
    "AWS_LWA_INVOKE_MODE": "response_stream",
    "AWS_LWA_PORT": "8080",
    "AWS_LWA_READINESS_CHECK_PATH": READY_PATH,
}


def stream_function(resources):
    function = resources["StreamFunction"]
    assert function["Type"] == "AWS::Lambda::Function" and function["Condition"] == "UseStreaming"
    return function["Properties"]


def test_a_second_function_runs_the_http_server_behind_the_adapter(transformed):  # noqa: F811
    properties = stream_function(transformed["Resources"])
    assert properties["Handler"] == "run.sh"
    assert properties["Architectures"] == ["arm64"]
    layer = properties["Layers"][0]["Fn::Sub"]
    assert ":753240598075:layer:LambdaAdapterLayerArm64:" in layer  # the adapter for the arm64 functions
    variables = properties["Environment"]["Variables"]
    assert {name: variables[name] for name in STREAMING_VARIABLES} == STREAMING_VARIABLES
    assert int(variables["STREAM_MAX_S"]) < properties["Timeout"]  # the gateway ends a stream first


def test_it_serves_the_same_gateway_as_the_api_function(transformed):  # noqa: F811
    resources = transformed["Resources"]
    api = resources["ApiFunction"]["Properties"]["Environment"]["Variables"]
    stream = stream_function(resources)["Environment"]["Variables"]
    assert {name: stream[name] for name in api} == api
    documents = {
        name: [policy["PolicyDocument"] for policy in resources[f"{name}Role"]["Properties"]["Policies"]]
        for name in ("ApiFunction", "StreamFunction")
    }
    assert documents["StreamFunction"] == documents["ApiFunction"]


def test_its_url_streams_and_anyone_may_call_it_the_gateway_authenticates(transformed):  # noqa: F811
    resources = transformed["Resources"]
    url = resources["StreamFunctionUrl"]
    assert url["Condition"] == "UseStreaming"
    assert url["Properties"]["InvokeMode"] == "RESPONSE_STREAM" and url["Properties"]["AuthType"] == "NONE"
    grants = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Permission"]
    targets = [g for g in grants if g["FunctionName"] == {"Ref": "StreamFunction"}]
    assert {g["Action"] for g in targets} == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    assert transformed["Outputs"]["StreamUrl"]["Value"] == {
        "Fn::GetAtt": ["StreamFunctionUrl", "FunctionUrl"]
    }


def test_the_package_starts_the_server_the_adapter_expects(tmp_path):
    from deploy import package

    package.copy_sources(package.ROOT, tmp_path)
    script = tmp_path / package.STARTUP_SCRIPT
    assert os.access(script, os.X_OK)
    assert script.read_text().rstrip().endswith("exec python3 -m handler")

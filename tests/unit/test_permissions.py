"""The functions' IAM grants: what the code calls is granted (the whole suite's calls are checked at its
end, tests/support/aws_calls.py), and nothing much beyond it."""

import boto3
import pytest
from moto import mock_aws

from lib.platform.store import Table
from local.aws import create_table
from tests.support.aws_calls import AwsCall, Recorder, partition_of, read_calls
from tests.support.cfn import Stack
from tests.support.iam_check import allowed, ungranted

TABLE_ARN = Stack().resolve({"Fn::GetAtt": ["GatewayTable", "Arn"]})
RESPONSES = ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query")


def gateway_may(action, partition, stack=None):
    statements = (stack or Stack()).statements("ApiFunction")
    return allowed(statements, f"dynamodb:{action}", TABLE_ARN, {"dynamodb:LeadingKeys": [partition]})


def test_the_response_cache_may_store_what_it_reads():
    # Given the default stack and one with the streaming function
    streaming = Stack({"EnableStreaming": "true"})
    # Then both functions may read and write the cache's partition
    for action in ("GetItem", "PutItem"):
        assert gateway_may(action, "CACHE")
        assert allowed(
            streaming.statements("StreamFunction"),
            f"dynamodb:{action}",
            TABLE_ARN,
            {"dynamodb:LeadingKeys": ["CACHE"]},
        )


def test_stored_responses_may_use_a_partition_per_conversation():
    for action in RESPONSES:
        assert gateway_may(action, "RESPONSE#resp_0123"), action


@pytest.mark.parametrize(
    ("action", "partition"),
    [
        ("PutItem", "KEYS"),  # only the operators' command creates client keys
        ("UpdateItem", "KEYS"),
        ("DeleteItem", "LIMITS"),  # a caller's usage is never wiped by the gateway
        ("PutItem", "LIMITS"),
        ("Query", "KEYS"),
        ("DeleteItem", "QUOTAS"),
        ("Scan", "RESPONSE#resp_0123"),
    ],
)
def test_the_gateway_may_not_write_what_the_code_never_writes(action, partition):
    assert not gateway_may(action, partition)


def test_another_table_is_out_of_reach():
    statements = Stack().statements("ApiFunction")
    other = TABLE_ARN.replace("GatewayTable", "OtherTable")
    assert not allowed(statements, "dynamodb:GetItem", other, {"dynamodb:LeadingKeys": ["CACHE"]})


@pytest.mark.parametrize(
    ("store", "action", "other"),
    [
        (
            "ssm",
            "ssm:GetParameter",
            "arn:aws:ssm:us-east-1:123456789012:parameter/modelgate/other/provider-key",
        ),
        (
            "secretsmanager",
            "secretsmanager:GetSecretValue",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:modelgate/other/provider-key-AbCdEf",
        ),
    ],
)
def test_keys_are_read_under_the_stacks_prefix_only(store, action, other):
    # Given a key read, as the code makes it under whatever name the key has
    own = AwsCall("gateway", action, "/anything/provider-key")
    # Then it is granted under the stack's prefix, and another stack's key is not
    assert ungranted([own]) == []
    assert not allowed(Stack({"KeyStore": store}).statements("ApiFunction"), action, other, {})


def test_bedrock_models_are_granted_as_listed_and_no_other():
    listed = "anthropic.claude-3-haiku-20240307-v1:0"
    stack = Stack({"BedrockModelIds": [listed]})
    statements = stack.statements("ApiFunction")
    model_arn = "arn:aws:bedrock:us-east-1::foundation-model/"
    assert allowed(statements, "bedrock:InvokeModel", model_arn + listed, {})
    assert not allowed(statements, "bedrock:InvokeModel", model_arn + "anthropic.claude-opus-4-v1:0", {})
    assert not any(a.startswith("bedrock:") for s in Stack().statements("ApiFunction") for a in s["Action"])


def test_the_check_names_the_ungranted_call_and_the_test_that_made_it():
    # Given a call the gateway would never be granted
    call = AwsCall("gateway", "dynamodb:PutItem", "KEYS", "tests/x.py::test_y")
    # When the recorded calls are checked
    problems = ungranted([call, AwsCall("gateway", "dynamodb:PutItem", "CACHE")])
    # Then only it is reported, for the API function everywhere and the stream function where deployed
    assert {(p.call.target, p.function) for p in problems} == {
        ("KEYS", "ApiFunction"),
        ("KEYS", "StreamFunction"),
    }
    assert "tests/x.py::test_y" in str(problems[0]) and "dynamodb:PutItem" in str(problems[0])


def test_the_recorder_attributes_a_call_to_the_code_that_made_it(tmp_path, monkeypatch):
    # Given a recorder on a moto DynamoDB client
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("dynamodb")
        create_table(client, "t")
        client.meta.events.register("before-parameter-build", Recorder(tmp_path))
        # When the gateway's store calls it, and the test calls it itself
        Table(client, "t").put({"pk": "CACHE", "sk": "k"}, {"body": "x"})
        Table(client, "t").query_partition("RESPONSE#a")
        client.get_item(TableName="t", Key={"pk": {"S": "KEYS"}, "sk": {"S": "k"}})
    # Then only the gateway's calls are recorded, with the partition each touched
    assert [(c.function, c.action, c.target) for c in read_calls(tmp_path)] == [
        ("gateway", "dynamodb:PutItem", "CACHE"),
        ("gateway", "dynamodb:Query", "RESPONSE#a"),
    ]


def test_a_query_names_its_partition_however_it_spells_the_key():
    named = {
        "KeyConditionExpression": "#p = :conversation AND begins_with(sk, :s)",
        "ExpressionAttributeNames": {"#p": "pk"},
        "ExpressionAttributeValues": {":conversation": {"S": "RESPONSE#a"}, ":s": {"S": "0"}},
    }
    assert partition_of(named) == "RESPONSE#a"
    assert partition_of({"Key": {"pk": {"S": "LIMITS"}, "sk": {"S": "x"}}}) == "LIMITS"

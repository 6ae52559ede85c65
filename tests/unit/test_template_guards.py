"""What template.yaml guards against: an open proxy by accident, losing the keys' table with the stack,
a streaming function nobody watches; and the settings a deployer must be able to give."""

import pytest

from tests.support.cfn import Stack

TEMPLATE = Stack().template
RESOURCES = TEMPLATE["Resources"]
PARAMETERS = TEMPLATE["Parameters"]


def rule_refuses(**parameters):
    """Whether CloudFormation's rule check refuses a stack with these parameters."""
    stack = Stack(parameters)
    rule = TEMPLATE["Rules"]["NoUnauthenticatedPublicUrl"]
    if not stack.resolve(rule["RuleCondition"]):
        return False
    return not all(stack.resolve(assertion["Assert"]) for assertion in rule["Assertions"])


@pytest.mark.parametrize("url", ["EnableFunctionUrl", "EnableStreaming"])
def test_no_authentication_with_a_public_url_takes_an_explicit_yes(url):
    assert rule_refuses(AuthMode="none", **{url: "true"})
    assert not rule_refuses(AuthMode="none", AllowUnauthenticatedPublicUrl="true", **{url: "true"})
    assert not rule_refuses(AuthMode="keys", **{url: "true"})
    assert PARAMETERS["AllowUnauthenticatedPublicUrl"]["Default"] == "false"


def test_no_authentication_behind_the_throttled_http_api_alone_is_allowed():
    assert not rule_refuses(AuthMode="none")


def test_the_refusal_says_what_to_do():
    (assertion,) = TEMPLATE["Rules"]["NoUnauthenticatedPublicUrl"]["Assertions"]
    text = assertion["AssertDescription"]
    assert "AuthMode=keys" in text and "AllowUnauthenticatedPublicUrl=true" in text


@pytest.mark.parametrize("name", ["GatewayTable", "ProviderKeySecret"])
def test_the_keys_and_the_usage_outlive_the_stack(name):
    assert RESOURCES[name]["DeletionPolicy"] == "Retain"
    assert RESOURCES[name]["UpdateReplacePolicy"] == "Retain"


def test_point_in_time_recovery_is_on_unless_turned_off():
    def enabled(**parameters):
        table = Stack(parameters).resolve(RESOURCES["GatewayTable"]["Properties"])
        return table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]

    assert enabled() is True
    assert enabled(TablePointInTimeRecovery="false") is False


@pytest.mark.parametrize(
    ("alarm", "metric"),
    [("StreamFunctionErrorsAlarm", "Errors"), ("StreamFunctionThrottlesAlarm", "Throttles")],
)
def test_the_streaming_function_has_errors_and_throttles_alarms(alarm, metric):
    resource = RESOURCES[alarm]
    assert resource["Condition"] == "UseStreaming"
    properties = resource["Properties"]
    assert (properties["Namespace"], properties["MetricName"]) == ("AWS/Lambda", metric)
    assert properties["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "StreamFunction"}}]


def test_alarm_email_says_what_happens_without_it():
    description = PARAMETERS["AlarmEmail"]["Description"]
    assert "confirm" in description and "nobody" in description


def test_the_global_daily_budget_is_a_parameter_and_off_by_default():
    def variable(**parameters):
        return Stack(parameters).environment("ApiFunction").get("GLOBAL_DAILY_TOKEN_BUDGET")

    assert variable() is None  # unset: the gateway has no global budget
    assert variable(GlobalDailyTokenBudget="200000") == "200000"


def test_the_web_adapter_layer_is_a_stable_release_chosen_by_parameter():
    stack = Stack({"EnableStreaming": "true"})
    (layer,) = stack.function("StreamFunction")["Layers"]
    assert layer == "arn:aws:lambda:us-east-1:753240598075:layer:LambdaAdapterLayerArm64:30"  # v1.1.0
    assert Stack({"EnableStreaming": "true", "WebAdapterLayerVersion": 31}).function("StreamFunction")[
        "Layers"
    ] == [layer.replace(":30", ":31")]


def test_http_api_access_logs_are_a_parameter_with_their_own_log_group():
    settings = RESOURCES["HttpApi"]["Properties"]["AccessLogSettings"]
    off = Stack({"HttpApiAccessLogs": "false"})
    assert "AccessLogSettings" not in off.resolve(RESOURCES["HttpApi"]["Properties"])
    assert not off.has("HttpApiAccessLogGroup")
    on = Stack()  # on by default: make cost prices them at $0 up to 1M requests a month
    assert on.has("HttpApiAccessLogGroup")
    resolved = on.resolve(settings)
    assert (
        resolved["DestinationArn"]
        == "arn:aws:logs:us-east-1:123456789012:log-group:/modelgate/modelgate/http-api:*"
    )
    assert "$context.status" in resolved["Format"] and "$context.identity.sourceIp" in resolved["Format"]
    # No header, hence no key, is ever in an access line.
    assert "header" not in resolved["Format"].lower() and "authorization" not in resolved["Format"].lower()


def test_the_streaming_functions_output_is_unbuffered():
    variables = Stack({"EnableStreaming": "true"}).environment("StreamFunction")
    assert variables["PYTHONUNBUFFERED"] == "1"

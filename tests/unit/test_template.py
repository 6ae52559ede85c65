"""template.yaml, read with its CloudFormation tags: what it deploys is what the README promises."""

import json
import re
from pathlib import Path

import pytest

from local.template import load_template
from tests.support.cfn import Stack

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
PARAMETERS = TEMPLATE["Parameters"]


def of_type(kind):
    return {name: resource for name, resource in RESOURCES.items() if resource["Type"] == kind}


def test_the_api_function_runs_on_a_supported_python_on_arm_within_30_seconds():
    function = RESOURCES["ApiFunction"]
    properties = {**TEMPLATE["Globals"]["Function"], **function["Properties"]}
    runtime = re.fullmatch(r"python3\.(\d+)", properties["Runtime"])
    assert runtime and int(runtime.group(1)) >= 12
    assert properties["Architectures"] == ["arm64"]
    assert properties["Timeout"] <= 30
    assert properties["Handler"] == "handler.api_handler"
    # Packaged by the Makefile's build target: handler.py, lib/ and runtime requirements only.
    assert function["Metadata"]["BuildMethod"] == "makefile"


def test_sam_build_runs_the_package_build_in_the_project_folder():
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("build-ApiFunction build-StreamFunction build-RotationFunction:")[1].split(
        "\n\n"
    )[0]
    assert "$(PACKAGE_DIR).zip" in recipe and 'cp -R $(PACKAGE_DIR)/. "$(ARTIFACTS_DIR)"' in recipe
    for name in ("ApiFunction", "StreamFunction", "RotationFunction"):
        function = RESOURCES[name]
        # What sam build copies first is CodeUri: a small folder, never the project with its .venv.
        assert function["Properties"]["CodeUri"] == "deploy/"
        assert function["Metadata"]["WorkingDirectory"] == "." and function["Metadata"]["ContextPath"] == "."


def test_the_api_is_an_http_api_with_the_url_as_output():
    assert of_type("AWS::Serverless::HttpApi")
    event = RESOURCES["ApiFunction"]["Properties"]["Events"]["Proxy"]
    assert event["Type"] == "HttpApi" and event["Properties"]["Method"] == "ANY"
    assert "ApiUrl" in TEMPLATE["Outputs"]


def test_the_table_is_the_one_from_the_design():
    table = RESOURCES["GatewayTable"]["Properties"]
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {"pk": "HASH", "sk": "RANGE"}
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def alarm_expression(alarm):
    return next(metric["Expression"] for metric in alarm["Properties"]["Metrics"] if "Expression" in metric)


def test_error_rate_alarm_is_over_5_percent_in_5_minutes():
    alarm = RESOURCES["ErrorRateAlarm"]["Properties"]
    assert PARAMETERS["ErrorRateThresholdPercent"]["Default"] == 5
    assert alarm["Threshold"] == {"Ref": "ErrorRateThresholdPercent"}
    assert alarm["EvaluationPeriods"] == 1
    stats = {m["Id"]: m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert {stat["Metric"]["MetricName"] for stat in stats.values()} == {"Errors", "Requests"}
    assert all(stat["Period"] == 300 for stat in stats.values())
    assert "100 * errors / requests" in alarm_expression(RESOURCES["ErrorRateAlarm"])


def test_upstream_failure_alarm_is_over_30_percent_for_10_minutes_in_a_row():
    alarm = RESOURCES["UpstreamFailureAlarm"]["Properties"]
    assert PARAMETERS["UpstreamFailureThresholdPercent"]["Default"] == 30
    assert alarm["EvaluationPeriods"] == 10 and alarm["DatapointsToAlarm"] == 10
    stats = [m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m]
    assert all(stat["Period"] == 60 for stat in stats)
    assert {stat["Metric"]["MetricName"] for stat in stats} == {"UpstreamFailures", "UpstreamCalls"}


def test_daily_token_alarm_is_a_share_of_the_budget():
    alarm = RESOURCES["DailyTokenBudgetAlarm"]["Properties"]
    assert alarm["Threshold"] == {"Ref": "DailyTokenAlarmPercent"}
    assert PARAMETERS["AlarmDailyTokenBudget"]["Default"] == 5000
    assert alarm_expression(RESOURCES["DailyTokenBudgetAlarm"]) == {
        "Fn::Sub": "100 * tokens / ${AlarmDailyTokenBudget}"
    }


@pytest.mark.parametrize(
    ("alarm", "metric"), [("ApiFunctionErrorsAlarm", "Errors"), ("ApiFunctionThrottlesAlarm", "Throttles")]
)
def test_lambda_errors_and_throttles_alarm(alarm, metric):
    properties = RESOURCES[alarm]["Properties"]
    assert properties["Namespace"] == "AWS/Lambda" and properties["MetricName"] == metric


def test_p99_latency_alarm_threshold_is_a_parameter():
    properties = RESOURCES["LatencyP99Alarm"]["Properties"]
    assert properties["ExtendedStatistic"] == "p99"
    assert properties["Threshold"] == {"Ref": "LatencyP99ThresholdMs"}


def test_every_alarm_notifies_the_topic_with_an_optional_email():
    for name, alarm in of_type("AWS::CloudWatch::Alarm").items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
    subscription = RESOURCES["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail" and PARAMETERS["AlarmEmail"]["Default"] == ""


def test_custom_metric_alarms_use_metrics_the_handler_emits():
    from lib.stages.telemetry import OUTCOME_METRICS

    emitted = {
        "Requests",
        "Errors",
        "UpstreamCalls",
        "UpstreamFailures",
        "Rejected",
        "Throttled",
        "Latency",
        "Tokens",
        "CostUSD",
        *OUTCOME_METRICS.values(),
    }
    text = json.dumps(RESOURCES)
    used = set(re.findall(r'"Namespace": "modelgate", "MetricName": "(\w+)"', text))
    used |= {m for m in re.findall(r'\[\\"modelgate\\", \\"(\w+)\\"', text)}
    assert used and used <= emitted


def test_the_dashboard_shows_what_the_issue_asks_and_is_valid_json():
    body, variables = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    rendered = re.sub(r"\$\{[^}]+\}", "1", body)
    widgets = json.loads(rendered)["widgets"]
    titles = " | ".join(widget["properties"]["title"] for widget in widgets)
    for needed in (
        "Requests",
        "Error rate",
        "Latency",
        "Tokens per day against the budget",
        "Rate-limited",
        "cost",
    ):
        assert needed.lower() in titles.lower()
    stats = {
        m[-1].get("stat") for w in widgets for m in w["properties"]["metrics"] if isinstance(m[-1], dict)
    }
    assert {"p50", "p99"} <= stats
    assert variables == {"Service": {"Ref": "AWS::StackName"}}


def test_logs_are_kept_for_a_limited_time():
    log_group = RESOURCES["ApiLogGroup"]["Properties"]
    assert log_group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert PARAMETERS["LogRetentionDays"]["Default"] == 14


def test_the_rotation_function_runs_every_90_days_on_either_store():
    assert PARAMETERS["RotationDays"]["Default"] == 90
    # Secrets Manager's own schedule is set by `make set-key` once a real key is stored (never against
    # the placeholder), from these outputs.
    assert not of_type("AWS::SecretsManager::RotationSchedule")
    assert TEMPLATE["Outputs"]["RotationDays"]["Value"] == {"Ref": "RotationDays"}
    assert TEMPLATE["Outputs"]["RotationFunctionArn"]["Value"] == {"Fn::GetAtt": ["RotationFunction", "Arn"]}
    scheduled = RESOURCES["RotationFunction"]["Properties"]["Events"]["RotateParameter"]
    assert scheduled["Type"] == "ScheduleV2"
    assert scheduled["Properties"]["State"] == {"Fn::If": ["UseSsm", "ENABLED", "DISABLED"]}
    assert json.loads(scheduled["Properties"]["Input"]) == {"action": "rotate"}


def test_secrets_manager_may_invoke_the_rotation_function_for_this_secret_only():
    permission = RESOURCES["RotationInvokePermission"]["Properties"]
    assert permission["Principal"] == "secretsmanager.amazonaws.com"
    assert permission["SourceArn"] == {"Ref": "ProviderKeySecret"}


def test_the_rotation_function_has_least_privilege():
    statements = RESOURCES["RotationFunction"]["Properties"]["Policies"][0]["Statement"]
    secrets_manager, ssm = statements[0]["Fn::If"][1], statements[0]["Fn::If"][2]
    assert sorted(secrets_manager["Action"]) == [
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
    ]
    # The stack's own keys only (its prefix: the default key and routes' keys), never another stack's.
    assert secrets_manager["Resource"]["Fn::Sub"].endswith(":secret:modelgate/${AWS::StackName}/*")
    assert sorted(ssm["Action"]) == ["ssm:DeleteParameter", "ssm:GetParameter", "ssm:PutParameter"]
    assert ssm["Resource"]["Fn::Sub"].endswith(":parameter/modelgate/${AWS::StackName}/*")
    assert RESOURCES["RotationFunction"]["Properties"]["Handler"] == "handler.rotation_handler"


@pytest.mark.parametrize(
    ("days", "expression"), [(1, "rate(1 day)"), (2, "rate(2 days)"), (365, "rate(365 days)")]
)
def test_every_rotation_interval_is_a_schedule_the_scheduler_takes(days, expression):
    scheduled = RESOURCES["RotationFunction"]["Properties"]["Events"]["RotateParameter"]["Properties"]
    assert Stack({"RotationDays": days}).resolve(scheduled["ScheduleExpression"]) == expression


def test_the_api_function_may_only_read_the_key():
    statements = RESOURCES["ApiFunction"]["Properties"]["Policies"][0]["Statement"]
    statement = next(s["Fn::If"] for s in statements if s.get("Fn::If", [None])[0] == "UseSecretsManager")
    assert statement[1]["Action"] == ["secretsmanager:GetSecretValue"]
    assert statement[2]["Action"] == ["ssm:GetParameter"]


def test_the_function_url_is_optional_and_off_by_default():
    assert PARAMETERS["EnableFunctionUrl"]["Default"] == "false"
    url = RESOURCES["ApiFunctionUrl"]
    assert url["Condition"] == "UseFunctionUrl" and url["Properties"]["AuthType"] == "NONE"


def test_the_http_api_is_throttled_before_any_lambda_runs():
    settings = RESOURCES["HttpApi"]["Properties"]["DefaultRouteSettings"]
    assert settings == {
        "ThrottlingRateLimit": {"Ref": "ApiThrottleRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ApiThrottleBurstLimit"},
    }
    assert PARAMETERS["ApiThrottleRateLimit"]["Default"] == 5


def render(node, parameters):
    """Resolve the few intrinsic functions the Bedrock grant uses, for given parameter values."""
    if isinstance(node, list):
        return [render(item, parameters) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"}:
        return parameters[node["Ref"]]
    if set(node) == {"Fn::Join"}:
        delimiter, items = node["Fn::Join"]
        return delimiter.join(render(items, parameters))
    if set(node) == {"Fn::Split"}:
        delimiter, text = node["Fn::Split"]
        return render(text, parameters).split(delimiter)
    if set(node) == {"Fn::Sub"}:
        text, variables = node["Fn::Sub"]
        values = {name: render(value, parameters) for name, value in variables.items()}
        return re.sub(r"\$\{([^}]+)\}", lambda match: values[match.group(1)], text)
    return {key: render(value, parameters) for key, value in node.items()}


def bedrock_statements(model_ids):
    """The API function's Bedrock statements for these BedrockModelIds (none when the condition is false)."""
    condition = TEMPLATE["Conditions"]["HasBedrockModels"]
    has_models = render(condition["Fn::Not"][0]["Fn::Equals"][0], {"BedrockModelIds": model_ids}) != ""
    statements = []
    for statement in RESOURCES["ApiFunction"]["Properties"]["Policies"][0]["Statement"]:
        choice = statement.get("Fn::If")
        if choice and choice[0] == "HasBedrockModels":
            assert choice[2] == {"Ref": "AWS::NoValue"}
            if has_models:
                statements.append(render(choice[1], {"BedrockModelIds": model_ids}))
    return statements


def test_bedrock_is_granted_only_for_the_model_ids_the_stack_is_given():
    parameter = PARAMETERS["BedrockModelIds"]
    assert (parameter["Type"], parameter["Default"]) == ("CommaDelimitedList", "")
    assert bedrock_statements([""]) == []  # the default: no Bedrock at all

    model, profile = "anthropic.claude-3-haiku-20240307-v1:0", "us.anthropic.claude-3-5-haiku-20241022-v1:0"
    direct, through_profiles = bedrock_statements([model, profile])

    for statement in (direct, through_profiles):
        assert statement["Effect"] == "Allow"
        assert statement["Action"] == ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    profile_arns = [
        f"arn:aws:bedrock:*:*:inference-profile/{model}",
        f"arn:aws:bedrock:*:*:inference-profile/{profile}",
    ]
    assert sorted(direct["Resource"]) == sorted(
        [
            f"arn:aws:bedrock:*::foundation-model/{model}",
            f"arn:aws:bedrock:*::foundation-model/{profile}",
            *profile_arns,
        ]
    )
    # The models behind a cross-region profile, in whichever region it picks, only through those profiles.
    assert through_profiles["Resource"] == "arn:aws:bedrock:*::foundation-model/*"
    assert through_profiles["Condition"] == {"StringLike": {"bedrock:InferenceProfileArn": profile_arns}}


def test_the_api_function_is_told_the_bedrock_model_ids_to_check_the_routes_against():
    variable = RESOURCES["ApiFunction"]["Properties"]["Environment"]["Variables"]["BEDROCK_MODEL_IDS"]
    assert render(variable, {"BedrockModelIds": ["a.b-v1:0", "us.c.d-v2:0"]}) == "a.b-v1:0,us.c.d-v2:0"


def test_cors_is_off_by_default_and_configured_on_both_front_doors():
    from lib.http.app import CORS_ALLOW_HEADERS, CORS_EXPOSE_HEADERS, CORS_MAX_AGE_S

    assert PARAMETERS["CorsAllowOrigins"]["Default"] == ""
    assert TEMPLATE["Conditions"]["HasCors"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "CorsAllowOrigins"}, ""]}]
    }
    http_api = RESOURCES["HttpApi"]["Properties"]["CorsConfiguration"]["Fn::If"]
    function_url = RESOURCES["ApiFunctionUrl"]["Properties"]["Cors"]["Fn::If"]
    for condition, configured, otherwise in (http_api, function_url):
        assert condition == "HasCors" and otherwise == {"Ref": "AWS::NoValue"}
        assert configured["AllowOrigins"] == {"Fn::Split": [",", {"Ref": "CorsAllowOrigins"}]}
        # The same lists powertools' CORSConfig uses for `make run` and the Lambda itself.
        assert configured["AllowHeaders"] == list(CORS_ALLOW_HEADERS)
        assert configured["ExposeHeaders"] == list(CORS_EXPOSE_HEADERS)
        assert configured["MaxAge"] == CORS_MAX_AGE_S
        assert {"GET", "HEAD", "POST"} <= set(configured["AllowMethods"])
        # A Function URL takes at most 6 methods of at most 6 characters.
        assert all(len(method) <= 6 for method in function_url[1]["AllowMethods"])


def test_the_front_page_has_a_route_as_well_as_every_path_below_it():
    events = RESOURCES["ApiFunction"]["Properties"]["Events"]
    paths = {event["Properties"]["Path"] for event in events.values() if event["Type"] == "HttpApi"}
    assert {"/", "/{proxy+}"} <= paths

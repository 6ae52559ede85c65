"""The deployment `make cost` prices: template.yaml's parameters (defaults, or values given with --set,
checked against what the template allows) and the alarms and dashboards its resources create.

Its own module because both the cost estimate and the table's capacity check (bench/table_capacity.py)
read a Deployment, and neither should import the other for it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Template parameters the estimate depends on.
COST_PARAMETERS = (
    "KeyStore",
    "TableBillingMode",
    "TableWriteCapacityUnits",
    "TableReadCapacityUnits",
    "ApiThrottleRateLimit",
    "FunctionMemoryMB",
    "EnableFunctionUrl",
    "DetailedMetrics",
    "LogRetentionDays",
    "RotationDays",
    "EnableStreaming",
    "TablePointInTimeRecovery",
    "HttpApiAccessLogs",
    "GlobalDailyTokenBudget",
)
# The optional feature (bench/measure.py's OPTIONAL_FEATURES) a template parameter turns on.
PARAMETER_FEATURES = {"GlobalDailyTokenBudget": "GLOBAL_DAILY_TOKEN_BUDGET"}
# What CloudWatch Logs bills per line beyond its text, and typical values for the HTTP API's access
# log fields (an id, a time, an address, a route, numbers), to size a line from the template's format.
LOG_EVENT_OVERHEAD_BYTES = 26
_ACCESS_LOG_SAMPLE = {
    "requestId": "JkFqZgQ1oAMEb-w=",
    "requestTime": "07/Dec/2026:13:08:38 +0000",
    "identity.sourceIp": "203.0.113.10",
    "routeKey": "ANY /{proxy+}",
    "status": "200",
    "responseLength": "612",
    "responseLatency": "2034",
    "integrationStatus": "200",
    "error.message": "-",
}


class CostInputError(Exception):
    """A bad request count or parameter value; the message says what is accepted."""


@dataclass(frozen=True)
class Deployment:
    """What the estimate and the capacity check need to know of the stack as it would be deployed."""

    key_store: str
    table_billing: str
    table_write_capacity: int
    table_read_capacity: int
    api_rate_limit: int
    api_burst_limit: int
    memory_mb: int
    function_url: bool
    detailed_metrics: bool
    log_retention_days: int
    rotation_days: int
    alarm_metrics: int
    dashboards: int
    streaming: bool = False
    point_in_time_recovery: bool = False
    access_log_bytes: int = 0  # per HTTP API request; 0 with HttpApiAccessLogs=false
    features: tuple[str, ...] = ()  # optional features the parameters turn on (bench/measure.py)


def deployment_from_template(template: Mapping[str, Any], overrides: Mapping[str, str]) -> Deployment:
    """The template's parameter defaults with `overrides` on top, each checked against its allowed values."""
    parameters = template["Parameters"]
    values = {name: str(spec.get("Default", "")) for name, spec in parameters.items()}
    for name, value in overrides.items():
        if name not in parameters:
            raise CostInputError(
                f"unknown parameter {name!r}; the estimate depends on {', '.join(COST_PARAMETERS)}"
            )
        values[name] = _checked(name, value, parameters[name])
    resources = template["Resources"]
    deployed = [
        resource
        for resource in resources.values()
        if "Condition" not in resource or _holds(template, resource["Condition"], values)
    ]
    alarm_metrics = sum(
        _alarm_metric_count(resource) for resource in deployed if resource["Type"] == "AWS::CloudWatch::Alarm"
    )
    dashboards = sum(1 for resource in resources.values() if resource["Type"] == "AWS::CloudWatch::Dashboard")
    return Deployment(
        key_store=values["KeyStore"],
        table_billing=values["TableBillingMode"],
        table_write_capacity=int(values["TableWriteCapacityUnits"]),
        table_read_capacity=int(values["TableReadCapacityUnits"]),
        api_rate_limit=int(values["ApiThrottleRateLimit"]),
        api_burst_limit=int(values["ApiThrottleBurstLimit"]),
        memory_mb=int(values["FunctionMemoryMB"]),
        function_url=values["EnableFunctionUrl"] == "true",
        detailed_metrics=values["DetailedMetrics"] == "true",
        log_retention_days=int(values["LogRetentionDays"]),
        rotation_days=int(values["RotationDays"]),
        alarm_metrics=alarm_metrics,
        dashboards=dashboards,
        streaming=values["EnableStreaming"] == "true",
        point_in_time_recovery=values["TablePointInTimeRecovery"] == "true",
        access_log_bytes=_access_log_bytes(template) if values["HttpApiAccessLogs"] == "true" else 0,
        features=tuple(feature for name, feature in PARAMETER_FEATURES.items() if values[name]),
    )


def _checked(name: str, value: str, spec: Mapping[str, Any]) -> str:
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(option) for option in allowed]:
        raise CostInputError(f"{name}={value!r} is not allowed; use one of {', '.join(map(str, allowed))}")
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            raise CostInputError(f"{name}={value!r} must be a number") from None
        low, high = spec.get("MinValue", -math.inf), spec.get("MaxValue", math.inf)
        if not low <= number <= high:
            raise CostInputError(f"{name}={value} must be between {low} and {high}")
        value = str(int(number)) if number == int(number) else value
    return value


def _holds(template: Mapping[str, Any], condition: str, values: Mapping[str, str]) -> bool:
    """A template condition for these parameter values (Fn::Equals, Not, And, Or over Refs and text)."""

    def value(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        ((function, argument),) = node.items()
        if function == "Ref":
            return values.get(argument, "")
        if function == "Condition":
            return _holds(template, argument, values)
        if function == "Fn::Join":  # of a list parameter (HasBedrockModels)
            return str(value(argument[1]))
        results = [value(item) for item in argument]
        if function == "Fn::Equals":
            return str(results[0]) == str(results[1])
        if function == "Fn::Not":
            return not results[0]
        return all(results) if function == "Fn::And" else any(results)

    return bool(value(template["Conditions"][condition]))


def _access_log_bytes(template: Mapping[str, Any]) -> int:
    """One HTTP API access log line as CloudWatch Logs bills it, from the template's format."""
    settings = template["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]["Fn::If"][1]
    line = re.sub(
        r"\$context\.([\w.]+)", lambda match: _ACCESS_LOG_SAMPLE.get(match.group(1), "-"), settings["Format"]
    )
    return len(line.encode()) + LOG_EVENT_OVERHEAD_BYTES


def _alarm_metric_count(alarm: Mapping[str, Any]) -> int:
    metrics = alarm["Properties"].get("Metrics")
    if metrics is None:
        return 1
    return sum(1 for metric in metrics if "MetricStat" in metric)

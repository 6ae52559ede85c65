"""Whether template.yaml grants each recorded AWS call (tests/support/aws_calls.py) to the function that
makes it, for the default parameters and each documented combination.

Each call is checked as the deployed function would make it: on the stack's table (with the partition
as `dynamodb:LeadingKeys`), on a key under the stack's own prefix (the `ProviderKeyPrefix` output, where
docs/deploying.md says every key goes: the test's own name keeps only its last segment), on a model the
stack lists in `BedrockModelIds`. The policy evaluation is IAM's for Allow statements: action and
resource patterns (`*`, `?`) and the condition operators the template uses.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.support.aws_calls import ADMIN_KEY, AwsCall
from tests.support.cfn import ACCOUNT, REGION, SECRET_ARN_SUFFIX, Stack

FUNCTIONS = {"gateway": ("ApiFunction", "StreamFunction"), "rotation": ("RotationFunction",)}
ADMIN_KEY_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:openai-admin{SECRET_ARN_SUFFIX}"
_PROFILE = re.compile(r"^(us|eu|apac|us-gov|global|jp|au|ca)\.")


def combinations(models: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The parameter sets the docs describe, by name."""
    bedrock = {"BedrockModelIds": list(models)} if models else {}
    openai = {
        "RotationKeyIssuer": "openai",
        "OpenAIProjectId": "proj_1",
        "OpenAIAdminKeySecretArn": ADMIN_KEY_ARN,
    }
    return {
        "defaults": {},
        "KeyStore=secretsmanager": {"KeyStore": "secretsmanager"},
        "EnableStreaming=true": {"EnableStreaming": "true"},
        "BedrockModelIds": bedrock,
        "RotationKeyIssuer=openai": openai,
        "all of them": {"KeyStore": "secretsmanager", "EnableStreaming": "true", **bedrock, **openai},
    }


@dataclass(frozen=True)
class Ungranted:
    call: AwsCall
    function: str
    combination: str
    resource: str

    def __str__(self) -> str:
        return (
            f"{self.function} ({self.combination}) may not {self.call.action} on {self.resource}"
            f" [{self.call.target!r}], which {self.call.first_test or 'the code'} made"
        )


def ungranted(calls: Iterable[AwsCall]) -> list[Ungranted]:
    calls = list(calls)
    models = sorted({call.target for call in calls if call.action.startswith("bedrock:")})
    problems = []
    for combination, parameters in combinations(models).items():
        stack = Stack(parameters)
        for call in calls:
            if not applies(call, stack):
                continue
            for function in FUNCTIONS[call.function]:
                if not stack.has(function):
                    continue
                statements = stack.statements(function)
                for resource, context in requests_of(call, stack):
                    if not allowed(statements, call.action, resource, context):
                        problems.append(Ungranted(call, function, combination, resource))
    return problems


def applies(call: AwsCall, stack: Stack) -> bool:
    """Whether a deployment with these parameters makes this call at all."""
    service = call.action.split(":")[0]
    if call.target == ADMIN_KEY:
        return bool(stack.parameters["OpenAIAdminKeySecretArn"])
    if service in ("ssm", "secretsmanager"):
        return stack.parameters["KeyStore"] == service
    if service == "bedrock":
        return stack.conditions["HasBedrockModels"]
    return True


def requests_of(call: AwsCall, stack: Stack) -> list[tuple[str, dict[str, list[str]]]]:
    """What IAM evaluates for the call: (resource ARN, condition context), one or more."""
    service = call.action.split(":")[0]
    if service == "dynamodb":
        table = stack.resolve({"Fn::GetAtt": ["GatewayTable", "Arn"]})
        return [(table, {"dynamodb:LeadingKeys": [call.target]})]
    if call.target == ADMIN_KEY:
        return [(ADMIN_KEY_ARN, {})]
    if service in ("ssm", "secretsmanager"):
        prefix = stack.resolve(stack.template["Outputs"]["ProviderKeyPrefix"]["Value"])
        name = prefix + _last_segment(call.target)
        if service == "ssm":
            return [(f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{name}", {})]
        return [(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}{SECRET_ARN_SUFFIX}", {})]
    if service == "bedrock":
        model = call.target
        if _PROFILE.match(model):
            profile = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/{model}"
            # A cross-region profile's call reaches the model in whichever region the profile picks.
            behind = f"arn:aws:bedrock:us-west-2::foundation-model/{_PROFILE.sub('', model)}"
            return [(profile, {}), (behind, {"bedrock:InferenceProfileArn": [profile]})]
        return [(f"arn:aws:bedrock:{REGION}::foundation-model/{model}", {})]
    return [("*", {})]


def _last_segment(name: str) -> str:
    if ":secret:" in name:  # an ARN: the name, without the six characters Secrets Manager adds
        name = re.sub(r"-[A-Za-z0-9]{6}$", "", name.split(":secret:", 1)[1])
    return name.rstrip("/").rsplit("/", 1)[-1]


def allowed(
    statements: Sequence[Mapping[str, Any]], action: str, resource: str, context: Mapping[str, list[str]]
) -> bool:
    """Whether an Allow statement covers the request (the template has no Deny)."""
    return any(
        statement["Effect"] == "Allow"
        and _matches(statement["Action"], action, case_sensitive=False)
        and _matches(statement["Resource"], resource, case_sensitive=True)
        and all(
            _condition(operator, key, expected, context)
            for operator, keys in statement.get("Condition", {}).items()
            for key, expected in keys.items()
        )
        for statement in statements
    )


def _matches(patterns: str | Sequence[str], value: str, case_sensitive: bool) -> bool:
    patterns = [patterns] if isinstance(patterns, str) else patterns
    if not case_sensitive:
        return any(fnmatch.fnmatchcase(value.lower(), pattern.lower()) for pattern in patterns)
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


def _condition(operator: str, key: str, expected: str | list[str], context: Mapping[str, list[str]]) -> bool:
    qualifier, _, test = operator.rpartition(":")
    expected = [expected] if isinstance(expected, str) else expected
    values = context.get(key)
    if values is None:
        return qualifier == "ForAllValues"  # IAM: a missing key satisfies ForAllValues, nothing else
    negated = test.startswith("StringNot")
    like = test.endswith("Like")

    def one(value: str) -> bool:
        hit = any(fnmatch.fnmatchcase(value, pattern) if like else value == pattern for pattern in expected)
        return not hit if negated else hit

    if test not in ("StringEquals", "StringLike", "StringNotEquals", "StringNotLike"):
        raise AssertionError(f"iam_check does not evaluate {operator} yet")
    if qualifier == "ForAllValues":
        return all(one(value) for value in values)
    return any(one(value) for value in values)

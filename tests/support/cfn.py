"""template.yaml resolved for given parameter values, as CloudFormation would deploy it: the conditions,
`Ref`, `Fn::Sub`, `Fn::If`, `Fn::Join`, `Fn::Split`, `Fn::Select`, `Fn::GetAtt` and the pseudo-parameters.

What the permission check (tests/support/iam_check.py) and the smoke run (tests/smoke/) read from it: a
function's IAM statements and its environment, for one stack in one account. Resources have the names a
stack would give them (`physical`), so an ARN in a grant is the ARN a call would touch.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from local.template import load_template

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "modelgate"
# Secrets Manager appends six random characters to a secret's name in its ARN.
SECRET_ARN_SUFFIX = "-AbCdEf"
_NO_VALUE = object()


@functools.cache
def _template() -> dict[str, Any]:
    """template.yaml, parsed once per process (nothing here changes it)."""
    return load_template()


class Stack:
    """One stack of template.yaml: its parameters (defaults overridden by `parameters`) and conditions."""

    def __init__(
        self,
        parameters: Mapping[str, Any] | None = None,
        physical: Mapping[str, str] | None = None,
        template: Mapping[str, Any] | None = None,
    ) -> None:
        self.template = template or _template()
        self.parameters: dict[str, Any] = {}
        for name, spec in self.template["Parameters"].items():
            value = (parameters or {}).get(name, spec.get("Default", ""))
            if spec["Type"] == "CommaDelimitedList" and isinstance(value, str):
                value = value.split(",")
            self.parameters[name] = value if isinstance(value, list) else str(value)
        unknown = set(parameters or {}) - set(self.parameters)
        assert not unknown, f"template.yaml has no parameter {sorted(unknown)}"
        self.pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::StackName": STACK,
            "AWS::URLSuffix": "amazonaws.com",
        }
        self.physical = {"GatewayTable": f"{STACK}-GatewayTable-1A2B3C", **(physical or {})}
        self.conditions = {
            name: bool(self.resolve(node)) for name, node in self.template["Conditions"].items()
        }

    def has(self, resource: str) -> bool:
        condition = self.template["Resources"][resource].get("Condition")
        return condition is None or self.conditions[condition]

    def function(self, name: str) -> dict[str, Any]:
        """A function's properties, the Globals' included, resolved."""
        assert self.has(name), f"{name} is not deployed with these parameters"
        properties = dict(self.template["Resources"][name]["Properties"])
        globals_ = self.template.get("Globals", {}).get("Function", {})
        variables = {
            **globals_.get("Environment", {}).get("Variables", {}),
            **properties.get("Environment", {}).get("Variables", {}),
        }
        merged = {**globals_, **properties, "Environment": {"Variables": variables}}
        resolved: dict[str, Any] = self.resolve(merged)
        return resolved

    def environment(self, name: str) -> dict[str, str]:
        """The environment variables the template gives a function."""
        return {key: str(value) for key, value in self.function(name)["Environment"]["Variables"].items()}

    def statements(self, name: str) -> list[dict[str, Any]]:
        """A function's IAM policy statements (SAM's inline `Policies`)."""
        policies = self.function(name).get("Policies", [])
        return [statement for policy in policies for statement in policy["Statement"]]

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.resolve(item) for item in node]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref":
                return self._ref(value)
            if key == "Condition":
                return self.conditions[value]
            if key.startswith("Fn::"):
                return getattr(self, "_" + key[4:].lower())(value)
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not _NO_VALUE}

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name == "ProviderKeySecret":
            secret_name = self.resolve(self.template["Resources"][name]["Properties"]["Name"])
            return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{secret_name}{SECRET_ARN_SUFFIX}"
        return self.physical.get(name, f"{STACK}-{name}-1A2B3C")

    def _getatt(self, value: list[str]) -> str:
        resource, attribute = value
        if (resource, attribute) == ("GatewayTable", "Arn"):
            return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{self._ref('GatewayTable')}"
        kind = self.template["Resources"].get(resource, {}).get("Type", "")
        if attribute == "Arn" and kind == "AWS::Logs::LogGroup":
            name = self.resolve(self.template["Resources"][resource]["Properties"]["LogGroupName"])
            return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"
        if attribute == "Arn" and kind == "AWS::Serverless::Function":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self._ref(resource)}"
        return f"{resource}.{attribute}"

    def _sub(self, value: Any) -> str:
        text, variables = (value, {}) if isinstance(value, str) else value
        values = {name: self.resolve(item) for name, item in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            if "." in name:
                return self._getatt(name.split(".", 1))
            return str(self._ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def _if(self, value: list[Any]) -> Any:
        condition, when_true, when_false = value
        return self.resolve(when_true if self.conditions[condition] else when_false)

    def _join(self, value: list[Any]) -> str:
        delimiter, items = value
        return delimiter.join(str(item) for item in self.resolve(items))

    def _split(self, value: list[Any]) -> list[str]:
        delimiter, text = value
        return str(self.resolve(text)).split(delimiter)

    def _select(self, value: list[Any]) -> Any:
        index, items = value
        return self.resolve(items)[int(self.resolve(index))]

    def _equals(self, value: list[Any]) -> bool:
        left, right = (self.resolve(item) for item in value)
        return str(left) == str(right)  # CloudFormation compares the values as text

    def _not(self, value: list[Any]) -> bool:
        return not self.resolve(value[0])

    def _and(self, value: list[Any]) -> bool:
        return all(self.resolve(item) for item in value)

    def _or(self, value: list[Any]) -> bool:
        return any(self.resolve(item) for item in value)

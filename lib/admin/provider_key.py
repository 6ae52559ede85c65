"""`provider-key set [--spare]` and `rotate`: the model provider's key where the stack's ProviderKeyId
and KeyStore outputs say it lives (a Secrets Manager secret or an SSM parameter), and a rotation
started now."""

from __future__ import annotations

import getpass
import json
import sys
from typing import Any, TextIO

from botocore.exceptions import ClientError

from lib.keys.secret_keys import SecretValueError, parse_secret_value
from lib.rotation.issuers import key_fingerprint


def set_provider_key(outputs: dict[str, str], client_for: Any, key: str, spare: bool, out: TextIO) -> int:
    """Write the key where the stack reads it, keeping the rest of the stored JSON (spares, ids)."""
    if len(key) < 8 or any(c.isspace() for c in key):
        print("error: that does not look like an API key (too short or has spaces)", file=sys.stderr)
        return 2
    store, key_id = outputs["KeyStore"], outputs["ProviderKeyId"]
    client = client_for("ssm" if store == "ssm" else "secretsmanager")
    value = _read_stored(client, store, key_id)
    if spare:
        value["spare_keys"] = [*value.get("spare_keys", []), key]
    else:
        value["api_key"] = key
    value.setdefault("spare_keys", [])
    text = json.dumps(value)
    if store == "ssm":
        client.put_parameter(Name=key_id, Value=text, Type="SecureString", Overwrite=True)
    else:
        client.put_secret_value(SecretId=key_id, SecretString=text)
    what = "spare key added" if spare else "provider key set"
    print(f"{what} in {key_id} ({key_fingerprint(key)}); {len(value['spare_keys'])} spare key(s)", file=out)
    if store == "secretsmanager" and not spare:
        enable_rotation(client, outputs, out)
    return 0


def enable_rotation(client: Any, outputs: dict[str, str], out: TextIO) -> None:
    """Turn on Secrets Manager's rotation of the key, once a real key is stored: the stack does not,
    since rotating its placeholder would fail the test step at deploy time. Secrets Manager runs that
    test step now, against the key just set."""
    function_arn, days = outputs.get("RotationFunctionArn"), outputs.get("RotationDays")
    if not function_arn or not days:
        return  # a stack from before these outputs: it configured its rotation itself
    described = client.describe_secret(SecretId=outputs["ProviderKeyId"])
    rules = {"AutomaticallyAfterDays": int(days)}
    if (
        described.get("RotationEnabled")
        and described.get("RotationLambdaARN") == function_arn
        and described.get("RotationRules", {}).get("AutomaticallyAfterDays")
        == rules["AutomaticallyAfterDays"]
    ):
        return
    client.rotate_secret(
        SecretId=outputs["ProviderKeyId"],
        RotationLambdaARN=function_arn,
        RotationRules=rules,
        RotateImmediately=False,
    )
    print(f"rotation every {days} days turned on (Secrets Manager tests the key now)", file=out)


def start_rotation(outputs: dict[str, str], client_for: Any, out: TextIO) -> int:
    """Secrets Manager: its own RotateSecret (the four steps). SSM: the function's scheduled event, now."""
    if outputs["KeyStore"] == "secretsmanager":
        client_for("secretsmanager").rotate_secret(SecretId=outputs["ProviderKeyId"])
        print(f"rotation started for {outputs['ProviderKeyId']}; watch the rotation log group", file=out)
        return 0
    response = client_for("lambda").invoke(
        FunctionName=outputs["RotationFunctionName"], Payload=json.dumps({"action": "rotate"}).encode()
    )
    if response.get("FunctionError"):
        print(f"error: the rotation failed: {response['Payload'].read().decode()[:500]}", file=sys.stderr)
        return 1
    print(f"rotated {outputs['ProviderKeyId']}", file=out)
    return 0


def _read_stored(client: Any, store: str, key_id: str) -> dict[str, Any]:
    try:
        if store == "ssm":
            raw = client.get_parameter(Name=key_id, WithDecryption=True)["Parameter"]["Value"]
        else:
            raw = client.get_secret_value(SecretId=key_id, VersionStage="AWSCURRENT")["SecretString"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("ParameterNotFound", "ResourceNotFoundException"):
            return {}
        raise
    try:
        return parse_secret_value(raw)
    except SecretValueError:
        return {}  # a placeholder or a broken value: replaced whole


def read_key() -> str:
    """The key to store: from a hidden prompt at a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        return getpass.getpass("provider API key (not echoed): ").strip()
    return sys.stdin.readline().strip()

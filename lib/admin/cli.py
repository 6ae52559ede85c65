"""Admin command: client keys and usage, straight from the table.

    python -m lib.admin.cli keys create --name NAME [--rpm N] [--burst N] [--daily-tokens N]
    python -m lib.admin.cli keys list
    python -m lib.admin.cli keys disable KEY_ID
    python -m lib.admin.cli keys enable KEY_ID
    python -m lib.admin.cli usage
    python -m lib.admin.cli provider-key set [--spare]     (reads the key from stdin or a hidden prompt)
    python -m lib.admin.cli rotate                         (starts a key rotation of the deployed stack now)

The table is --table, else TABLE_NAME, else the TableName output of --stack (a deployed stack).
The provider key's home is the stack's ProviderKeyId and KeyStore outputs.
A new key is printed once, by `create`, and never again: the table holds only its SHA-256.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
)

from lib.callers.identity import caller_id_for_hash, hash_key, new_client_key
from lib.keys.secret_keys import SecretValueError, parse_secret_value
from lib.platform.config import ConfigError
from lib.platform.route_table import load_route_table
from lib.platform.store import LIMITS_PARTITION, QUOTAS_PARTITION, KeyRecords, StoreError, Table
from lib.providers import PROVIDERS
from lib.rotation.issuers import key_fingerprint

_MAX_LIMIT = 10**12


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= _MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"{value} must be between 1 and {_MAX_LIMIT}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lib.admin.cli", description="modelgate client keys and usage"
    )
    parser.add_argument(
        "--table", help="DynamoDB table (default: TABLE_NAME, or the stack's TableName output)"
    )
    parser.add_argument(
        "--stack", default=os.environ.get("STACK"), help="CloudFormation stack to read the table from"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    keys = commands.add_parser("keys", help="create, list, disable or enable client keys")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a key and print it once")
    create.add_argument("--name", required=True, help="who the key is for (shown in usage)")
    create.add_argument("--rpm", type=positive_int, help="requests per minute (default RATE_LIMIT_RPM)")
    create.add_argument("--burst", type=positive_int, help="burst size (default: the rpm)")
    create.add_argument(
        "--daily-tokens", type=positive_int, help="daily token budget (default DAILY_TOKEN_BUDGET)"
    )
    actions.add_parser("list", help="list keys (never the keys themselves)")
    for action in ("disable", "enable"):
        toggle = actions.add_parser(action, help=f"{action} a key by its id (key_...)")
        toggle.add_argument("key_id")
    usage = commands.add_parser(
        "usage", help="today's and this month's tokens and cost per caller, and each route's free allowance"
    )
    usage.add_argument(
        "--routes",
        default=os.environ.get("ROUTES_FILE") or ("routes.toml" if os.path.exists("routes.toml") else None),
        help="routes file whose allowances to show (default: ROUTES_FILE, else routes.toml if present)",
    )
    provider_key = commands.add_parser("provider-key", help="store the model provider's key")
    provider_actions = provider_key.add_subparsers(dest="action", required=True)
    set_key = provider_actions.add_parser("set", help="set the current key (or add a spare for rotation)")
    set_key.add_argument("--spare", action="store_true", help="add the key to spare_keys (the rotation pool)")
    commands.add_parser("rotate", help="start a provider-key rotation of the deployed stack now")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, dynamodb_client: Any = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "keys" and args.action == "create":
        if not args.name.strip():
            parser.error("--name must name who the key is for (make keys-create NAME=my-blog)")
        if len(args.name) > 100:
            parser.error("--name must be at most 100 characters")
    try:
        if args.command in ("provider-key", "rotate"):
            outputs = _stack_outputs(args.stack, parser)
            if args.command == "rotate":
                return start_rotation(outputs, _aws_client, out)
            return set_provider_key(outputs, _aws_client, _read_key(), args.spare, out)
        client = dynamodb_client or _aws_client("dynamodb")
        table = Table(
            client, args.table or os.environ.get("TABLE_NAME") or _table_from_stack(args.stack, parser)
        )
        if args.command == "usage":
            print_usage(table, out)
            print_route_usage(table, args.routes, out)
        elif args.action == "create":
            create_key(KeyRecords(table), args, out)
        elif args.action == "list":
            list_keys(KeyRecords(table), out)
        else:
            return set_enabled(KeyRecords(table), args.key_id, args.action == "enable", out)
    except (StoreError, BotoCoreError, ClientError) as exc:
        print(f"error: {_describe(exc)}", file=sys.stderr)
        return 1
    return 0


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


def _read_key() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("provider API key (not echoed): ").strip()
    return sys.stdin.readline().strip()


def _stack_outputs(stack: str | None, parser: argparse.ArgumentParser) -> dict[str, str]:
    if not stack:
        parser.error("pass --stack (or STACK=...) naming the deployed stack")
    described = _aws_client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}


def _describe(exc: Exception) -> str:
    """The error, and for the usual first-run ones what to do: reach `make run`'s table or a stack."""
    cause = exc.__cause__ if isinstance(exc, StoreError) and exc.__cause__ else exc
    if isinstance(cause, ClientError):
        return f"AWS refused: {cause.response.get('Error', {}).get('Code', 'error')}"
    local = "For `make run`'s local table, start `make run` first (while it serves, these commands use it)"
    if isinstance(cause, NoRegionError):
        return (
            f"no AWS region set. {local}; for a deployed stack, name it and its region: "
            "STACK=<name> AWS_DEFAULT_REGION=<region> (or AWS_PROFILE=<profile>)"
        )
    if isinstance(cause, NoCredentialsError):
        return (
            f"no AWS credentials found. {local}; for a deployed stack, give credentials for its account "
            "(aws configure, or AWS_PROFILE=<profile>)"
        )
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if isinstance(cause, EndpointConnectionError) and endpoint:
        return (
            f"nothing answers at {endpoint} (AWS_ENDPOINT_URL, which .make-run.env sets while `make run` "
            "serves): start `make run` again, or name a deployed stack with STACK=<name> (and delete "
            ".make-run.env if a `make run` that was killed left it behind)"
        )
    return str(exc)


def create_key(records: KeyRecords, args: argparse.Namespace, out: TextIO) -> None:
    key = new_client_key()
    key_hash = hash_key(key)
    attributes: dict[str, Any] = {
        "name": args.name,
        "enabled": True,
        "caller_id": caller_id_for_hash(key_hash),
        "created_at": int(time.time()),
    }
    for field in ("rpm", "burst", "daily_tokens"):
        if getattr(args, field) is not None:
            attributes[field] = getattr(args, field)
    records.create(key_hash, attributes)
    print(f"key id:  {attributes['caller_id']}", file=out)
    print(f"key:     {key}", file=out)
    print("Store the key now: it is not kept and cannot be shown again.", file=out)


def list_keys(records: KeyRecords, out: TextIO) -> None:
    rows = [
        [
            item.get("caller_id", ""),
            item.get("name", ""),
            "yes" if item.get("enabled", True) else "no",
            str(item.get("rpm", "default")),
            str(item.get("burst", "default")),
            str(item.get("daily_tokens", "default")),
            time.strftime("%Y-%m-%d", time.gmtime(int(item.get("created_at", 0)))),
        ]
        for item in sorted(records.all(), key=lambda item: int(item.get("created_at", 0)))
    ]
    _print_table(["key id", "name", "enabled", "rpm", "burst", "daily tokens", "created"], rows, out)


def set_enabled(records: KeyRecords, key_id: str, enabled: bool, out: TextIO) -> int:
    prefix = key_id.removeprefix("key_")
    if len(prefix) != 12 or any(c not in "0123456789abcdef" for c in prefix):
        print(
            f"error: {key_id!r} is not a key id (key_ followed by 12 hex digits; see `keys list`)",
            file=sys.stderr,
        )
        return 2
    matches = records.find_by_prefix(prefix)
    if not matches:
        print(f"error: no key with id {key_id}", file=sys.stderr)
        return 1
    for item in matches:
        records.set_enabled(item["sk"], enabled)
    print(f"{key_id}: {'enabled' if enabled else 'disabled'}", file=out)
    return 0


def print_usage(table: Table, out: TextIO, now: float | None = None) -> None:
    now = time.time() if now is None else now
    day = time.strftime("%Y%m%d", time.gmtime(now))
    month = day[:6]
    names = {item.get("caller_id"): item.get("name", "") for item in table.query_partition("KEYS")}
    rows = []
    totals = [0, 0.0, 0, 0.0]
    for item in table.query_partition(LIMITS_PARTITION):
        if item["sk"].startswith("#"):
            continue
        figures = [
            int(item.get(f"tokens_{day}", 0)),
            float(item.get(f"cost_{day}", 0.0)),
            int(item.get(f"tokens_{month}", 0)),
            float(item.get(f"cost_{month}", 0.0)),
        ]
        totals = [total + figure for total, figure in zip(totals, figures, strict=True)]
        rows.append(
            [
                item["sk"],
                names.get(item["sk"], item.get("name", "")),
                str(item.get(f"requests_{day}", 0)),
                str(figures[0]),
                f"{figures[1]:.4f}",
                str(figures[2]),
                f"{figures[3]:.4f}",
            ]
        )
    rows.sort(key=lambda row: -int(row[5]))
    rows.append(["total", "", "", str(totals[0]), f"{totals[1]:.4f}", str(totals[2]), f"{totals[3]:.4f}"])
    print(f"usage for {day[:4]}-{day[4:6]}-{day[6:]} (UTC) and {month[:4]}-{month[4:]}", file=out)
    _print_table(
        ["caller", "name", "requests today", "tokens today", "cost today $", "tokens month", "cost month $"],
        rows,
        out,
    )


def print_route_usage(table: Table, routes_file: str | None, out: TextIO, now: float | None = None) -> None:
    """Each route's tokens this month against its free allowance (routes without one are not counted)."""
    allowances: dict[str, int | None] = {}
    if routes_file:
        try:
            routes = load_route_table(routes_file, PROVIDERS, None)
        except ConfigError as exc:
            print(f"routes: {exc}", file=out)
            return
        allowances = {name: route.free_tokens_per_month for name, route in routes.routes.items()}
    month = time.strftime("%Y%m", time.gmtime(time.time() if now is None else now))
    rows = []
    for item in table.query_partition(QUOTAS_PARTITION):
        tokens = int(item.get(f"tokens_{month}", 0))
        allowance = allowances.get(item["sk"])
        rows.append(
            [
                item["sk"],
                str(item.get(f"requests_{month}", 0)),
                str(tokens),
                str(allowance) if allowance is not None else "?",
                str(max(0, allowance - tokens)) if allowance is not None else "?",
            ]
        )
    for name, allowance in allowances.items():
        if allowance is not None and name not in {row[0] for row in rows}:
            rows.append([name, "0", "0", str(allowance), str(allowance)])
    if not rows:
        return
    print(f"\nfree allowances for {month[:4]}-{month[4:]} (UTC)", file=out)
    _print_table(["route", "requests month", "tokens month", "free tokens", "left"], rows, out)


def _print_table(headers: list[str], rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    for row in [headers, ["-" * width for width in widths], *rows]:
        print(
            "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip(),
            file=out,
        )


def _table_from_stack(stack: str | None, parser: argparse.ArgumentParser) -> str:
    if not stack:
        parser.error("no table: pass --table, set TABLE_NAME, or pass --stack for a deployed stack")
    table = _stack_outputs(stack, parser).get("TableName")
    if not table:
        parser.error(f"stack {stack} has no TableName output")
    return str(table)


def _aws_client(service: str) -> Any:
    import boto3

    return boto3.client(service)

"""Admin command: client keys and usage, straight from the table. This module is the command line (the
parser and the dispatch); each command's work is in its own module beside it (client_keys.py,
usage.py, provider_key.py), and stack.py finds the deployed stack and its AWS.

    python -m lib.admin keys create --name NAME [--rpm N] [--burst N] [--daily-tokens N]
    python -m lib.admin keys list
    python -m lib.admin keys disable KEY_ID
    python -m lib.admin keys enable KEY_ID
    python -m lib.admin usage
    python -m lib.admin provider-key set [--spare]     (reads the key from stdin or a hidden prompt)
    python -m lib.admin rotate                         (starts a key rotation of the deployed stack now)

The table is --table, else TABLE_NAME, else the TableName output of --stack (a deployed stack).
The provider key's home is the stack's ProviderKeyId and KeyStore outputs.
A new key is printed once, by `create`, and never again: the table holds only its SHA-256.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from lib.admin.client_keys import create_key, list_keys, set_enabled
from lib.admin.provider_key import read_key, set_provider_key, start_rotation
from lib.admin.stack import aws_client, describe_error, stack_outputs, table_from_stack
from lib.admin.usage import print_route_usage, print_usage
from lib.platform.store import KeyRecords, StoreError, Table

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
        prog="python -m lib.admin", description="modelgate client keys and usage"
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
            outputs = stack_outputs(args.stack, parser)
            if args.command == "rotate":
                return start_rotation(outputs, aws_client, out)
            return set_provider_key(outputs, aws_client, read_key(), args.spare, out)
        client = dynamodb_client or aws_client("dynamodb")
        table = Table(
            client, args.table or os.environ.get("TABLE_NAME") or table_from_stack(args.stack, parser)
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
        print(f"error: {describe_error(exc)}", file=sys.stderr)
        return 1
    return 0

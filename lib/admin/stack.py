"""Where the operators' command finds what it works on: a deployed stack's outputs (its table, its
provider key's home), the AWS clients, and AWS's errors put as what to do about them."""

from __future__ import annotations

import argparse
import os
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

from lib.platform.store import StoreError


def stack_outputs(stack: str | None, parser: argparse.ArgumentParser) -> dict[str, str]:
    if not stack:
        parser.error("pass --stack (or STACK=...) naming the deployed stack")
    described = aws_client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}


def table_from_stack(stack: str | None, parser: argparse.ArgumentParser) -> str:
    if not stack:
        parser.error("no table: pass --table, set TABLE_NAME, or pass --stack for a deployed stack")
    table = stack_outputs(stack, parser).get("TableName")
    if not table:
        parser.error(f"stack {stack} has no TableName output")
    return str(table)


def aws_client(service: str) -> Any:
    import boto3

    return boto3.client(service)


def describe_error(exc: Exception) -> str:
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

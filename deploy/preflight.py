"""`make deploy`'s first step: AWS credentials that work and a region, checked before `sam deploy --guided`
asks its first question (without them it asks every question, then fails, and saves no answer).

    python -m deploy.preflight

Prints the account and region it will deploy to, or what to do, and exits 2.
"""

from __future__ import annotations

import sys
from typing import Any

NO_CREDENTIALS = (
    "no AWS credentials found. Sign in first: `aws configure` (an access key), or `aws configure sso` "
    "then `aws sso login`, or name a profile with AWS_PROFILE=...; then run make deploy again."
)
NO_REGION = (
    "no AWS region set. Choose one: `aws configure set region us-east-1` (or your region), or "
    "AWS_REGION=us-east-1 make deploy."
)


def check(session: Any) -> tuple[list[str], str]:
    """(what is missing, each with what to do; the account and region when nothing is)."""
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    problems = []
    try:
        credentials = session.get_credentials()
    except BotoCoreError as exc:  # a profile that names something missing, an SSO cache gone
        credentials = None
        problems.append(f"the AWS credentials could not be loaded ({exc}). {NO_CREDENTIALS}")
    if credentials is None and not problems:
        problems.append(NO_CREDENTIALS)
    if not session.region_name:
        problems.append(NO_REGION)
    if problems:
        return problems, ""
    config = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 2})
    try:
        identity = session.client("sts", config=config).get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        return [
            f"AWS refused the credentials ({type(exc).__name__}: {exc}). If they expired, sign in again "
            "(`aws sso login`, or a new access key with `aws configure`); then run make deploy again."
        ], ""
    return [], f"account {identity['Account']}, region {session.region_name}"


def main() -> int:
    import boto3

    problems, target = check(boto3.Session())
    for problem in problems:
        print(f"make deploy: {problem}", file=sys.stderr)
    if problems:
        return 2
    print(f"make deploy: deploying to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

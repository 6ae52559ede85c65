"""`make deploy` checks for credentials and a region before the guided deploy's first question, and says
what to do when they are missing."""

import os
import re
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from deploy.preflight import NO_CREDENTIALS, NO_REGION, check

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def nothing_configured(monkeypatch, tmp_path):
    """No credentials or region anywhere boto3 looks (environment, files, instance metadata)."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def test_without_credentials_or_region_it_says_what_to_run(nothing_configured):
    problems, _ = check(boto3.Session())
    assert problems == [NO_CREDENTIALS, NO_REGION]
    assert "aws configure" in NO_CREDENTIALS and "aws configure set region" in NO_REGION


def test_credentials_without_a_region_are_not_enough(nothing_configured):
    nothing_configured.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    nothing_configured.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    assert check(boto3.Session())[0] == [NO_REGION]


def test_working_credentials_name_the_account_and_region(nothing_configured):
    nothing_configured.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    nothing_configured.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    nothing_configured.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        problems, target = check(boto3.Session())
    assert problems == [] and target == "account 123456789012, region eu-west-1"


def test_it_stops_before_anything_is_asked(tmp_path):
    # Given no credentials and no region
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    # When the preflight runs, as make deploy runs it
    result = subprocess.run(
        [sys.executable, "-m", "deploy.preflight"], cwd=REPO, env=environment, capture_output=True, text=True
    )
    # Then it exits with one line per missing thing, each saying what to do
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [f"make deploy: {NO_CREDENTIALS}", f"make deploy: {NO_REGION}"]


def test_the_docs_list_every_question_of_the_guided_deploy_in_order_with_its_default():
    from local.template import load_template

    # Given the questions docs/deploying.md lists, and the parameters SAM asks for, in template order
    docs = (REPO / "docs" / "deploying.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| \d+ \| `Parameter (\w+) \[([^\]]*)\]`", docs, re.MULTILINE)
    parameters = load_template()["Parameters"]
    # Then each is there, in order, with the default Enter takes
    assert listed == [(name, str(spec.get("Default", ""))) for name, spec in parameters.items()]
    numbers = [int(n) for n in re.findall(r"^\| (\d+) \| `", docs, re.MULTILINE)]
    assert numbers == list(range(1, len(numbers) + 1))
    assert "`Save arguments to configuration file [Y/n]`" in docs

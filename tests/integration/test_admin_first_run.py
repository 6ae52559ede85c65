"""The admin commands as a new user first meets them: a key with no name, no `make run` serving, and a
`.make-run.env` left behind by a `make run` that is gone."""

import io
import socket

import boto3
import pytest

from lib.admin import cli as admin
from tests.conftest import TABLE_NAME


@pytest.mark.parametrize("name", ["", "   "])
def test_a_key_without_a_name_is_refused_and_nothing_is_written(aws, name, capsys):
    # When `make keys-create` runs without NAME (it passes --name "")
    with pytest.raises(SystemExit) as exit_:
        admin.main(["--table", TABLE_NAME, "keys", "create", "--name", name], dynamodb_client=aws)
    # Then it is refused as a bad number is, saying how to name the key, and no key exists
    assert exit_.value.code == 2
    assert "make keys-create NAME=" in capsys.readouterr().err
    assert aws.scan(TableName=TABLE_NAME)["Items"] == []


def test_with_no_make_run_and_no_region_it_says_what_to_do(gateway_env, monkeypatch, tmp_path, capsys):
    # Given no `make run` serving (no table settings) and no AWS configuration at all
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "TABLE_NAME", "AWS_ENDPOINT_URL"):
        gateway_env.delenv(name, raising=False)
    gateway_env.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # a session made earlier keeps its config
    # When `make usage` runs (the Makefile names the default stack)
    assert admin.main(["--stack", "modelgate", "usage"]) == 1
    # Then it says to start `make run`, or to name the deployed stack and its region
    said = capsys.readouterr().err
    assert "no AWS region" in said and "start `make run`" in said
    assert "STACK=<name> AWS_DEFAULT_REGION=<region>" in said


def test_a_make_run_that_is_gone_is_named_as_such(gateway_env, capsys):
    # Given the settings of a `make run` whose embedded AWS no longer answers
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gateway_env.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    gateway_env.setenv("TABLE_NAME", TABLE_NAME)
    gateway_env.setenv("AWS_MAX_ATTEMPTS", "1")
    # When `make keys-list` runs
    assert admin.main(["keys", "list"]) == 1
    # Then it names the endpoint that does not answer and what to do
    said = capsys.readouterr().err
    assert f"nothing answers at http://127.0.0.1:{port}" in said
    assert "start `make run` again" in said and "STACK=<name>" in said


def test_a_key_created_for_a_run_that_checks_no_keys_says_so(gateway_env, aws, capsys):
    # Given `make run`'s settings say it serves with AUTH_MODE=none (its .make-run.env: a local table)
    gateway_env.setenv("AUTH_MODE", "none")
    gateway_env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    # When a key is created for its table
    printed = io.StringIO()
    created = admin.main(["--table", TABLE_NAME, "keys", "create", "--name", "me"], printed, aws)
    # Then the key is printed, and a note says it will not count until keys are checked
    said = capsys.readouterr().err
    assert created == 0 and "key:     mg-" in printed.getvalue()
    assert "AUTH_MODE=none" in said and "AUTH_MODE=keys make run" in said

"""Every AWS call the code makes while the suite runs, and which function makes it.

A botocore handler (`before-parameter-build`, added to botocore's built-in handlers so every client of
every session has it, moto's included) writes one line per distinct call: the function (`gateway`: the
API and stream functions, which run the same code; `rotation`), the IAM action, and what it touches
(the partition of a table item, the name of a parameter or secret, a model id). The function is the
code on the call's stack: `lib/rotation/` (or the rotation handler) is the rotation function, the rest
of `lib/` and handler.py the gateway; the operators' command (`lib/admin/`) and the tests' own set-up
are no function's and are not recorded.

At the end of the session (on xdist's controller, once every worker is done) the calls are checked
against template.yaml's grants (tests/support/iam_check.py): a call no grant allows fails the run,
naming the call and the first test that made it.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import botocore.handlers
import pytest

REPO = Path(__file__).resolve().parents[2]
RECORD_DIR_VARIABLE = "MODELGATE_AWS_CALLS_DIR"
ADMIN_KEY = "admin-key"  # the target recorded for OPENAI_ADMIN_KEY_SECRET_ID, the rotation's admin key
_LIB = str(REPO / "lib") + os.sep
_ADMIN = str(REPO / "lib" / "admin") + os.sep
_ROTATION = str(REPO / "lib" / "rotation") + os.sep
_HANDLER = str(REPO / "handler.py")
# The IAM action of an operation where it is not `<signing name>:<operation>`.
_ACTIONS = {
    "bedrock:Converse": "bedrock:InvokeModel",
    "bedrock:ConverseStream": "bedrock:InvokeModelWithResponseStream",
}


@dataclass(frozen=True, order=True)
class AwsCall:
    """One kind of call: `target` is the partition key for DynamoDB, the key's name for SSM and Secrets
    Manager, the model id for Bedrock."""

    function: str
    action: str
    target: str
    first_test: str = ""

    def key(self) -> tuple[str, str, str]:
        return self.function, self.action, self.target


def function_on_stack(frame: Any) -> str | None:
    """`gateway`, `rotation`, or None (the operators' command, or no project code at all)."""
    files = []
    while frame is not None:
        files.append((frame.f_code.co_filename, frame.f_code.co_name))
        frame = frame.f_back
    if any(name.startswith(_ADMIN) for name, _ in files):
        return None
    if any(
        name.startswith(_ROTATION) or (name == _HANDLER and code == "rotation_handler")
        for name, code in files
    ):
        return "rotation"
    if any(name.startswith(_LIB) or name == _HANDLER for name, _ in files):
        return "gateway"
    return None


def target_of(service: str, params: dict[str, Any]) -> str:
    if service == "dynamodb":
        return partition_of(params)
    if service == "ssm":
        return str(params.get("Name", ""))
    if service == "secretsmanager":
        name = str(params.get("SecretId", ""))
        return ADMIN_KEY if name and name == os.environ.get("OPENAI_ADMIN_KEY_SECRET_ID") else name
    if service == "bedrock":
        return str(params.get("modelId", ""))
    return ""


def partition_of(params: dict[str, Any]) -> str:
    """The partition key (`pk`) a DynamoDB item call touches, or a Query reads."""
    for field in ("Key", "Item"):
        if field in params:
            return str(params[field].get("pk", {}).get("S", ""))
    expression = params.get("KeyConditionExpression", "")
    names = {name: value for name, value in params.get("ExpressionAttributeNames", {}).items()}
    for left, placeholder in re.findall(r"([#\w]+)\s*=\s*(:\w+)", expression):
        if names.get(left, left) == "pk":
            return str(params.get("ExpressionAttributeValues", {}).get(placeholder, {}).get("S", ""))
    return ""


class Recorder:
    """Writes each distinct call of this process once, to a file of its own in the shared folder."""

    def __init__(self, folder: Path) -> None:
        self._path = folder / f"{os.getpid()}.jsonl"
        self._seen: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        try:
            self._record(params, model)
        except Exception as exc:  # a recording fault must never change what the call does
            print(f"aws_calls: not recorded ({exc!r})", file=sys.stderr)

    def _record(self, params: dict[str, Any], model: Any) -> None:
        function = function_on_stack(sys._getframe(1))
        if function is None:
            return
        service = model.service_model.signing_name
        action = f"{service}:{model.name}"
        call = AwsCall(
            function,
            _ACTIONS.get(action, action),
            target_of(service, params),
            os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0],
        )
        with self._lock:
            if call.key() in self._seen:
                return
            self._seen.add(call.key())
            with self._path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(asdict(call)) + "\n")


def read_calls(folder: Path) -> list[AwsCall]:
    calls: dict[tuple[str, str, str], AwsCall] = {}
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            call = AwsCall(**json.loads(line))
            calls.setdefault(call.key(), call)
    return sorted(calls.values())


class Plugin:
    """Registered by tests/conftest.py: records in every process, checks on the controller."""

    def __init__(self) -> None:
        self._folder: Path | None = None
        self._owned: tempfile.TemporaryDirectory[str] | None = None
        self.missing: list[str] = []

    def pytest_configure(self, config: pytest.Config) -> None:
        if not hasattr(config, "workerinput") and RECORD_DIR_VARIABLE not in os.environ:
            self._owned = tempfile.TemporaryDirectory(prefix="modelgate-aws-calls-")
            os.environ[RECORD_DIR_VARIABLE] = self._owned.name  # the workers inherit it
        self._folder = Path(os.environ[RECORD_DIR_VARIABLE])
        botocore.handlers.BUILTIN_HANDLERS.append(("before-parameter-build", Recorder(self._folder)))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self._owned is None or self._folder is None:
            return  # a worker, or a run inside another that checks
        from tests.support.iam_check import ungranted

        self.missing = [str(problem) for problem in ungranted(read_calls(self._folder))]
        if self.missing and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.missing:
            terminalreporter.section("AWS calls template.yaml does not grant", red=True)
            for line in self.missing:
                terminalreporter.write_line(line)

    def pytest_unconfigure(self) -> None:
        if self._owned is not None:
            os.environ.pop(RECORD_DIR_VARIABLE, None)
            self._owned.cleanup()

"""What a deploy gets: the template after SAM's transform (what CloudFormation sees), and the artifact."""

import fnmatch
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from deploy import package
from local.template import load_template

REPO = Path(__file__).resolve().parents[2]

# Each resource type's own physical-name property: a fixed value there collides with a second stack.
PHYSICAL_NAMES = {
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::Scheduler::Schedule": "Name",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::IAM::Role": "RoleName",
    "AWS::SNS::Topic": "TopicName",
}


@pytest.fixture(scope="module")
def transformed():
    """template.yaml through SAM's own transform, as `sam deploy` hands it to CloudFormation."""
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self):
            return {}

    template = load_template()
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/function.zip"  # what `sam package` writes
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # SAM resolves the pseudo-parameters' region
        return transform(template, {"ModelEndpoint": "https://api.example.com/v1"}, NoManagedPolicies())


class TestASecondStack:
    def test_every_physical_name_is_the_stacks_own(self, transformed):
        for name, resource in transformed["Resources"].items():
            prop = PHYSICAL_NAMES.get(resource["Type"])
            value = resource.get("Properties", {}).get(prop) if prop else None
            if value is not None:
                assert "${AWS::StackName}" in json.dumps(value), f"{name}.{prop} is fixed: {value}"

    def test_the_rotation_schedule_gets_a_name_from_cloudformation(self, transformed):
        (schedule,) = [
            r for r in transformed["Resources"].values() if r["Type"] == "AWS::Scheduler::Schedule"
        ]
        assert "Name" not in schedule["Properties"]  # SAM's default would be the fixed logical id

    @pytest.mark.parametrize("branch", [1, 2], ids=["secretsmanager", "ssm"])
    def test_a_stack_may_read_its_own_key_and_never_another_stacks(self, transformed, branch):
        resources = transformed["Resources"]
        statements = resources["ApiFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        grant = next(s["Fn::If"][branch] for s in statements if "Fn::If" in s)["Resource"]["Fn::Sub"]
        key = resources["ApiFunction"]["Properties"]["Environment"]["Variables"]["AI_MODEL_SECRET_ID"]
        key = key["Fn::If"][branch]
        if key == {"Ref": "ProviderKeySecret"}:
            key = resources["ProviderKeySecret"]["Properties"]["Name"]
            arn = (
                "arn:aws:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:" + key["Fn::Sub"] + "-AbCdEf"
            )
        else:
            arn = "arn:aws:ssm:${AWS::Region}:${AWS::AccountId}:parameter" + key["Fn::Sub"]

        def resolved(text, stack):
            text = text.replace("${AWS::StackName}", stack).replace("${AWS::Partition}", "aws")
            return re.sub(r"\$\{AWS::\w+\}", "x", text)

        assert fnmatch.fnmatchcase(resolved(arn, "modelgate"), resolved(grant, "modelgate"))
        assert not fnmatch.fnmatchcase(resolved(arn, "modelgate-two"), resolved(grant, "modelgate"))
        assert not fnmatch.fnmatchcase(resolved(arn, "modelgate"), resolved(grant, "modelgate-two"))

    def test_the_prefix_the_function_may_read_is_an_output(self):
        outputs = load_template()["Outputs"]
        assert outputs["ProviderKeyPrefix"]["Value"] == {
            "Fn::If": [
                "UseSecretsManager",
                {"Fn::Sub": "modelgate/${AWS::StackName}/"},
                {"Fn::Sub": "/modelgate/${AWS::StackName}/"},
            ]
        }


def test_no_rotation_is_configured_against_the_placeholder_key(transformed):
    types = {resource["Type"] for resource in transformed["Resources"].values()}
    assert "AWS::SecretsManager::RotationSchedule" not in types
    secret = transformed["Resources"]["ProviderKeySecret"]["Properties"]
    assert "replace-me" in secret["SecretString"]  # the placeholder `make set-key` replaces


class TestTheArtifact:
    @pytest.fixture
    def source(self, tmp_path, monkeypatch):
        """The project as `make package` sees it, with this Python as the runtime and pip's work faked
        (tests never leave the machine): what pip leaves behind that never runs in Lambda included."""
        root = tmp_path / "project"
        root.mkdir()
        shutil.copy2(REPO / "handler.py", root)
        shutil.copytree(REPO / "lib", root / "lib")
        (root / "lib" / "__pycache__").mkdir(exist_ok=True)
        (root / "lib" / "__pycache__" / "stale.cpython-311.pyc").write_bytes(b"stale")
        (root / "requirements.txt").write_text("requests\n")
        runtime = f"python3.{sys.version_info[1]}"
        template = (REPO / "template.yaml").read_text(encoding="utf-8")
        (root / "template.yaml").write_text(re.sub(r"python3\.\d+", runtime, template), encoding="utf-8")

        def fake_pip(out, requirements, version):
            (out / "bin").mkdir()
            (out / "bin" / "normalizer").write_text("#!/home/someone/.venv/bin/python\n")
            (out / "somepkg").mkdir()
            (out / "somepkg" / "__init__.py").write_text("ANSWER = 42\n")
            (out / "charset_normalizer").mkdir()
            (out / "charset_normalizer" / "__init__.py").write_text("")
            (out / "charset_normalizer-3.5.3.dist-info").mkdir()

        monkeypatch.setattr(package, "install_requirements", fake_pip)
        return root

    def test_it_holds_only_what_runs_in_lambda(self, source, tmp_path):
        out = tmp_path / "function"
        (source / "routes.toml").write_text('default = "general"\n')
        package.build(out, None, root=source)
        files = {path.relative_to(out).as_posix() for path in out.rglob("*") if path.is_file()}
        assert "handler.py" in files and "lib/http/routes.py" in files and "somepkg/__init__.py" in files
        assert "routes.toml" in files  # beside handler.py: RoutesFile=routes.toml from /var/task
        assert not any(name.startswith("lib/admin/") for name in files)
        assert not any(name.startswith(("bin/", "tests/", "local/", "bench/", "deploy/")) for name in files)
        assert not any(name.startswith("charset_normalizer") for name in files)  # never runs: below
        assert not any("cpython-311" in name and sys.version_info[1] != 11 for name in files)
        assert "lib/__pycache__/stale.cpython-311.pyc" not in files

    def test_every_module_has_unchecked_hash_bytecode_for_the_runtime(self, source, tmp_path):
        out = tmp_path / "function"
        package.build(out, None, root=source)
        tag = sys.implementation.cache_tag
        for module in out.rglob("*.py"):
            compiled = Path(importlib.util.cache_from_source(str(module)))
            assert compiled.is_file() and tag in compiled.name, module
            header = compiled.read_bytes()[:8]
            assert header[:4] == importlib.util.MAGIC_NUMBER
            # PEP 552 flags: bit 0 hash-based, bit 1 check_source; 1 = hash-based and unchecked.
            assert int.from_bytes(header[4:8], "little") == 0b01, module

    def test_the_bytecode_is_used_after_zipping_whatever_the_times_say(self, source, tmp_path):
        out, zipped, unpacked = tmp_path / "function", tmp_path / "function.zip", tmp_path / "unpacked"
        package.build(out, zipped, root=source)
        with zipfile.ZipFile(zipped) as archive:
            archive.extractall(unpacked)  # modification times rounded to 2 s, as Lambda unpacks them
        (unpacked / "somepkg" / "__init__.py").write_text("ANSWER = 'recompiled from source'\n")
        result = subprocess.run(
            [sys.executable, "-B", "-c", "import somepkg; print(somepkg.ANSWER)"],
            cwd=unpacked,
            env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(unpacked)},
            capture_output=True,
            text=True,
            check=True,
        )
        assert result.stdout.strip() == "42"  # the shipped bytecode ran; nothing was compiled again

    def test_another_python_than_the_runtime_is_refused_naming_the_fix(self, source, tmp_path):
        template = source / "template.yaml"
        template.write_text(re.sub(r"python3\.\d+", "python3.99", template.read_text()), encoding="utf-8")
        with pytest.raises(package.PackageError, match=re.escape("LAMBDA_PYTHON=/path/to/python3.99")):
            package.build(tmp_path / "function", None, root=source)

    def test_the_makefile_compiles_with_the_templates_runtime(self):
        version = package.runtime_version(REPO / "template.yaml")
        found = subprocess.run([str(REPO / "deploy" / "lambda_python.sh")], capture_output=True, text=True)
        if found.returncode != 0:
            pytest.skip(found.stderr)
        reported = subprocess.run([found.stdout.strip(), "--version"], capture_output=True, text=True).stdout
        assert reported.startswith(f"Python {version[0]}.{version[1]}.")


_WITHOUT_CHARSET_DETECTION = """
import sys, warnings
sys.modules["charset_normalizer"] = sys.modules["chardet"] = None  # as in the artifact: not there
warnings.simplefilter("error")  # a warning at import would be a line in every cold start's log
import handler
from local.events import LambdaContext, http_api_event

body = b'{"messages": [{"role": "user", "content": "hi"}]}'
headers = [("content-type", "application/json")]
event = http_api_event("POST", "/v1/chat/completions", body=body, headers=headers)
response = handler.api_handler(event, LambdaContext())
print(response["statusCode"], response["body"])
"""


def test_the_gateway_serves_without_the_charset_detection_the_artifact_leaves_out(upstream):
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "AI_MODEL_ENDPOINT": upstream.base_url,
        "AI_MODEL_NAME": "test-model",
        "AUTH_MODE": "none",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "modelgate",
        "POWERTOOLS_METRICS_NAMESPACE": "modelgate",
    }
    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT_CHARSET_DETECTION],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    status_line = result.stdout.strip().splitlines()[-1]
    assert status_line.startswith("200 ") and "hello from upstream" in status_line


def test_make_deploy_is_guided_the_first_time_and_uses_the_saved_answers_after(tmp_path):
    sam = tmp_path / "bin" / "sam"
    sam.parent.mkdir()
    sam.write_text('#!/bin/sh\necho "sam $*" >> "$SAM_CALLS"\n')
    sam.chmod(0o755)
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Makefile", "requirements.txt", "requirements-dev.txt"):
        shutil.copy2(REPO / name, project)
    (project / "lib").mkdir()
    calls = tmp_path / "calls"
    environment = {**os.environ, "PATH": f"{sam.parent}:{os.environ['PATH']}", "SAM_CALLS": str(calls)}
    # The project's Python, installed (the stamp), whose preflight finds credentials and a region.
    python, stamp = tmp_path / "python", tmp_path / "installed"
    python.write_text('#!/bin/sh\necho "python $*" >> "$SAM_CALLS"\n')
    python.chmod(0o755)
    stamp.touch()

    def deploy(stack):
        subprocess.run(
            ["make", "-s", "deploy", f"STACK={stack}", f"PY={python}", f"STAMP={stamp}"],
            cwd=project,
            env=environment,
            check=True,
            capture_output=True,
        )
        lines = calls.read_text().splitlines()
        calls.unlink()
        return lines

    assert deploy("modelgate") == [
        "python -m deploy.preflight",  # credentials and a region, before sam asks anything
        "sam build",
        "sam deploy --guided --stack-name modelgate --config-env modelgate",
    ]
    # What the guided deploy saves when asked to (samconfig.toml, under the stack's name):
    (project / "samconfig.toml").write_text('[modelgate.deploy.parameters]\nstack_name = "modelgate"\n')
    assert deploy("modelgate")[1:] == ["sam build", "sam deploy --config-env modelgate"]
    assert deploy("second")[2] == "sam deploy --guided --stack-name second --config-env second"
    # A routes file goes into the package and is offered as RoutesFile, also to a stack whose saved
    # answers came before it.
    (project / "routes.toml").write_text('default = "general"\n')
    assert deploy("modelgate")[2] == (
        "sam deploy --guided --stack-name modelgate --config-env modelgate"
        " --parameter-overrides RoutesFile=routes.toml"
    )
    with (project / "samconfig.toml").open("a") as saved:
        saved.write('parameter_overrides = "RoutesFile=\\"routes.toml\\""\n')
    assert deploy("modelgate")[1:] == ["sam build", "sam deploy --config-env modelgate"]


def test_the_routes_file_is_packaged_where_the_function_reads_it():
    assert load_template()["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"][
        "ROUTES_FILE"
    ] == {"Ref": "RoutesFile"}
    assert load_template()["Parameters"]["RoutesFile"]["Default"] == ""  # none: the single route


def test_a_cold_start_imports_only_what_the_first_request_needs():
    """What a default deployment's first request never runs stays out of `import handler`: the rotation
    code, the wire formats no route speaks, the TOML reader (no routes file), the operators' command."""
    code = "import sys, handler; print(' '.join(sorted(sys.modules)))"
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "POWERTOOLS_SERVICE_NAME": "x",
    }
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=environment, capture_output=True, text=True, check=True
    ).stdout.split()
    assert "lib.http.routes" in loaded and "lib.providers.base" in loaded  # what it does need
    for never in (
        "lib.rotation.steps",
        "lib.rotation.stores",
        "lib.rotation.key_check",
        "lib.rotation.issuers",
        "lib.providers.anthropic",
        "lib.providers.bedrock",
        "tomllib",
        "lib.admin",
        "aws_lambda_powertools.utilities.typing",
    ):
        assert never not in loaded, never


def test_a_cold_start_collects_no_garbage_and_leaves_the_collector_on():
    """handler.py pauses the garbage collector while it imports (a collection then frees nothing), then
    freezes what it imported and turns the collector back on for the requests."""
    code = (
        "import gc; import handler; "
        "print(gc.isenabled(), gc.get_freeze_count(), sum(s['collections'] for s in gc.get_stats()))"
    )
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "POWERTOOLS_SERVICE_NAME": "x",
    }
    enabled, frozen, collections = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=environment, capture_output=True, text=True, check=True
    ).stdout.split()
    assert enabled == "True"
    assert int(frozen) > 20_000  # boto3's, powertools' and the gateway's objects, out of later collections
    assert int(collections) < 20  # without the pause: about a hundred, during the imports alone

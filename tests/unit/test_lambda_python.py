"""deploy/lambda_python.sh: the functions' Python found on the PATH, through pyenv or through uv, or one
clean line saying how to get it; `make package`, `make bench` and `make smoke` use what it finds."""

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "lambda_python.sh"
SYSTEM = "/usr/bin:/bin"


def fake(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + text + "\n")
    path.chmod(0o755)
    return path


def find(bin_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        env={"PATH": f"{bin_dir}:{SYSTEM}"},
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def bin_dir(tmp_path):
    if shutil.which("python3.12", path=SYSTEM):
        pytest.skip("this machine has python3.12 in /usr/bin: nothing to look further for")
    return tmp_path / "bin"


def test_a_python_on_the_path_is_taken(bin_dir):
    fake(bin_dir / "python3.12", "echo /opt/python/bin/python3.12")
    assert find(bin_dir).stdout.strip() == "/opt/python/bin/python3.12"


def test_a_pyenv_version_is_found_where_the_shim_fails(bin_dir, tmp_path):
    # Given pyenv's shim, which fails while no 3.12 is selected, and two 3.12 versions installed
    fake(bin_dir / "python3.12", "echo 'pyenv: python3.12: command not found' >&2; exit 127")
    root = tmp_path / "pyenv"
    fake(bin_dir / "pyenv", f'[ "$1" = root ] && echo {root}')
    for version in ("3.12.1", "3.12.10"):
        fake(
            root / "versions" / version / "bin" / "python3.12",
            f"echo {root}/versions/{version}/bin/python3.12",
        )
    # Then the newest is found
    assert find(bin_dir).stdout.strip() == f"{root}/versions/3.12.10/bin/python3.12"


def test_uv_finds_one(bin_dir, tmp_path):
    python = fake(tmp_path / "uv-python" / "python3.12", f"echo {tmp_path}/uv-python/python3.12")
    fake(bin_dir / "uv", f'[ "$1 $2 $3" = "python find 3.12" ] && echo {python}')
    assert find(bin_dir).stdout.strip() == str(python)


def test_with_none_it_says_how_to_get_one_in_one_clean_line(bin_dir):
    bin_dir.mkdir()
    result = find(bin_dir, "make package")
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("make package: needs Python 3.12") and "\t" not in line
    assert "pyenv install 3.12" in line and "uv python install 3.12" in line and "LAMBDA_PYTHON=" in line


def test_make_package_stops_with_that_line_and_takes_a_named_python(bin_dir, tmp_path):
    bin_dir.mkdir()
    environment = {"PATH": f"{bin_dir}:{SYSTEM}"}
    out = f"PACKAGE_DIR={tmp_path / 'function'}"
    result = subprocess.run(
        ["make", "--no-print-directory", "package", out],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "make package: needs Python 3.12, the functions' runtime: install it" in result.stderr
    assert "\t" not in result.stderr.splitlines()[0]
    named = subprocess.run(
        ["make", "-n", "--no-print-directory", "package", out, "LAMBDA_PYTHON=/opt/py/python3.12"],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert "/opt/py/python3.12 -m deploy.package" in named.stdout

"""The Makefile as a user meets it: `make help` and the README's table name every target; the first run
shows progress."""

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MAKEFILE = (REPO / "Makefile").read_text(encoding="utf-8")


def make(*args):
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout


def test_help_lists_every_target_with_a_description():
    targets = set(re.search(r"^\.PHONY:(.*)$", MAKEFILE, re.MULTILINE).group(1).split())
    listed = {}
    for line in make("help").splitlines():
        _, target, description = line.split(maxsplit=2)
        listed[target] = description
    assert targets == set(listed)
    assert all(description.strip() for description in listed.values())


def test_the_first_install_says_what_it_does_and_lets_pip_show_its_progress(tmp_path):
    plan = make("-n", "install", f"VENV={tmp_path / 'venv'}")
    assert "installing the dependencies" in plan and "about two minutes" in plan
    (pip_line,) = [line for line in plan.splitlines() if "pip install" in line]
    assert "--quiet" not in pip_line and " -q " not in pip_line


def test_the_readmes_table_shows_every_target():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = "\n".join(line for line in readme.splitlines() if line.startswith("| `make "))
    targets = re.search(r"^\.PHONY:(.*)$", MAKEFILE, re.MULTILINE).group(1).split()
    assert [target for target in targets if not re.search(rf"make {re.escape(target)}(?![\w-])", table)] == []

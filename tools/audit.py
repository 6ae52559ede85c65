"""`make lint`'s dependency audit: pip-audit of the runtime requirements (what the function ships).

pip-audit needs PyPI's advisory data (the JSON API). Where that cannot be reached, pip-audit would
report "no known vulnerabilities" while auditing nothing; `--strict` turns that into a failure, and
this wrapper says plainly that the audit did not happen. A known vulnerability always fails.
An unreachable advisory service fails too with AUDIT_REQUIRED=1; otherwise it is a loud warning,
because a machine without that service (as this project's CI) could then never pass lint at all.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements.txt"
_UNREACHABLE = ("could not be audited", "Connection", "Max retries", "Temporary failure", "timed out")


def outcome(returncode: int, output: str) -> str:
    """What pip-audit's run means: "clean", "vulnerable", "unreachable" (nothing audited) or "failed"."""
    if returncode == 0:
        return "clean"
    if "Found " in output and "vulnerabilit" in output:
        return "vulnerable"
    if any(marker in output for marker in _UNREACHABLE):
        return "unreachable"
    return "failed"


def main() -> int:
    pip_audit = Path(sys.executable).with_name("pip-audit")
    command = [str(pip_audit), "--strict", "--progress-spinner", "off", "-r", str(REQUIREMENTS)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - our own argv
    output = "\n".join(
        line
        for line in (result.stdout + result.stderr).splitlines()
        if not line.startswith("WARNING: Location")  # pip's note about this machine's extra index
    ).strip()
    verdict = outcome(result.returncode, output)
    if verdict == "clean":
        print(output or "pip-audit: no known vulnerabilities")
        return 0
    if verdict == "unreachable":
        print(output.splitlines()[-1] if output else "")
        print(
            "pip-audit: NOT AUDITED: PyPI's advisory data could not be reached from this machine, so "
            f"{REQUIREMENTS.name} was not checked for known vulnerabilities "
            "(run `make lint` where pypi.org's JSON API is reachable; AUDIT_REQUIRED=1 makes this fatal)",
            file=sys.stderr,
        )
        return 1 if os.environ.get("AUDIT_REQUIRED") == "1" else 0
    print(output)
    return result.returncode or 1


if __name__ == "__main__":
    sys.exit(main())

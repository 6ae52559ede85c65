"""`make lint`'s audit: a vulnerability fails, an audit that could not happen says so."""

import pytest

from tools.audit import outcome

# pip-audit 2.10.1's own lines for each case.
UNREACHABLE = (
    "ERROR:pip_audit._cli:requests: Dependency not found on PyPI and could not be audited: requests (2.34.2)"
)
VULNERABLE = (
    "Found 1 known vulnerability in 1 package\n"
    "Name     Version ID                  Fix Versions\n"
    "requests 2.31.0  GHSA-9wx4-h78v-vm56 2.32.0"
)


@pytest.mark.parametrize(
    ("returncode", "output", "expected"),
    [
        (0, "No known vulnerabilities found", "clean"),
        (1, VULNERABLE, "vulnerable"),
        (1, UNREACHABLE, "unreachable"),
        (1, "ERROR: Connection to pypi.org timed out", "unreachable"),
        (2, "usage: pip-audit [-h] ...", "failed"),
    ],
)
def test_each_result_is_told_apart(returncode, output, expected):
    assert outcome(returncode, output) == expected

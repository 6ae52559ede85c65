"""Cold `import handler` of the built function, beside a bare `import boto3` (the floor every Python
Lambda pays), as Lambda runs it: the runtime's Python, the artifact first on the path, boto3 from the
runtime, and no bytecode written (Lambda's /var/task is read-only).

    python -m bench.cold_import --artifact build/function --python .venv-lambda/bin/python

`make bench` builds the artifact (`make package`) and a Python of the functions' runtime with only
boto3 (what Lambda's runtime provides), then runs this. Each sample is a fresh interpreter timing its
own CPU time; the two statements alternate so that load on the machine hits both alike; the figure is
the median.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

# The target: importing the gateway adds at most half of what boto3 itself costs.
TARGET_RATIO = 1.5
# CPU time, not wall time: on a machine shared with other work, waiting for a core is not importing.
_TIMED = "import time; t = time.process_time(); {statement}; print((time.process_time() - t) * 1000)"


def import_ms(python: str, artifact: Path, statement: str) -> float:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(artifact),
        "PYTHONDONTWRITEBYTECODE": "1",
        # What the template sets, so powertools reads the same configuration at import.
        "POWERTOOLS_SERVICE_NAME": "modelgate",
        "POWERTOOLS_METRICS_NAMESPACE": "modelgate",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    output = subprocess.check_output(
        [python, "-s", "-c", _TIMED.format(statement=statement)], cwd=artifact, env=environment
    )
    return float(output)


def measure(python: str, artifact: Path, runs: int) -> tuple[float, float]:
    """(median ms of `import boto3`, median ms of `import handler`)."""
    boto3_ms, handler_ms = [], []
    for _ in range(runs):
        boto3_ms.append(import_ms(python, artifact, "import boto3"))
        handler_ms.append(import_ms(python, artifact, "import handler"))
    return statistics.median(boto3_ms), statistics.median(handler_ms)


def report(python: str, artifact: Path, runs: int) -> str:
    version = subprocess.check_output([python, "-c", "import sys; print(sys.version.split()[0])"], text=True)
    boto3_ms, handler_ms = measure(python, artifact, runs)
    ratio = handler_ms / boto3_ms
    verdict = "within" if ratio <= TARGET_RATIO else "OVER"
    return "\n".join(
        [
            f"cold import of the built function ({artifact}), Python {version.strip()}, no bytecode writes,"
            f" CPU time, median of {runs} fresh interpreters:",
            f"  import boto3     {boto3_ms:8.1f} ms  (the floor)",
            f"  import handler   {handler_ms:8.1f} ms  = {ratio:.2f} x boto3"
            f" ({verdict} the {TARGET_RATIO} x target)",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.cold_import", description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", type=Path, required=True, help="the built function (make package)")
    parser.add_argument("--python", required=True, help="a Python of the functions' runtime, with boto3")
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_IMPORT_RUNS", "31")))
    args = parser.parse_args(argv)
    if not (args.artifact / "handler.py").is_file():
        print(f"bench.cold_import: no built function in {args.artifact}: run make package", file=sys.stderr)
        return 2
    python = os.path.abspath(args.python) if os.sep in args.python else args.python  # runs in the artifact
    print(report(python, args.artifact.resolve(), args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())

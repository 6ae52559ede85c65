"""Cold `import handler` of the built function, beside a bare `import boto3` (the floor every Python
Lambda pays), as Lambda runs it: the runtime's Python, the artifact first on the path, boto3 from the
runtime, and no bytecode written (Lambda's /var/task is read-only).

    python -m bench.cold_import --artifact build/function --python .venv-lambda/bin/python

`make bench` builds the artifact (`make package`) and a Python of the functions' runtime with only
boto3 (what Lambda's runtime provides), then runs this. Each sample is a fresh interpreter timing its
own CPU time; each round runs the statements back to back, and a statement's ratio to `import boto3`
is the median of its rounds' own ratios (paired: the machine's speed drifts between rounds).

handler.py pauses the garbage collector during its imports, which also spares boto3's own import
inside it some collections. The third line shows the same import with that pause undone, so the part
of the figure that comes from it is in plain view.
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
BOTO3 = "import boto3"
HANDLER = "import handler"
# handler.py's gc.disable() and gc.freeze() made no-ops: the import as it would be without the pause.
HANDLER_COLLECTING = "import gc; gc.disable = gc.freeze = lambda: None; import handler"


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


def measure(python: str, artifact: Path, runs: int, statements: Sequence[str]) -> list[list[float]]:
    """Per statement, its ms in each round; a round runs the statements back to back, in order."""
    samples: list[list[float]] = [[] for _ in statements]
    for _ in range(runs):
        for timings, statement in zip(samples, statements, strict=True):
            timings.append(import_ms(python, artifact, statement))
    return samples


def paired_ratio(timings: Sequence[float], floor: Sequence[float]) -> float:
    """The median over rounds of each round's own ratio: the machine's speed drifts from one second to
    the next, and a ratio of two statements run back to back is what that drift touches least."""
    return statistics.median(time / base for time, base in zip(timings, floor, strict=True))


def report(python: str, artifact: Path, runs: int) -> str:
    version = subprocess.check_output([python, "-c", "import sys; print(sys.version.split()[0])"], text=True)
    boto3_ms, handler_ms, collecting_ms = measure(
        python, artifact, runs, (BOTO3, HANDLER, HANDLER_COLLECTING)
    )
    ratio = paired_ratio(handler_ms, boto3_ms)
    verdict = "within" if ratio <= TARGET_RATIO else "OVER"
    return "\n".join(
        [
            f"cold import of the built function ({artifact}), Python {version.strip()}, no bytecode writes,"
            f" CPU time, {runs} rounds of fresh interpreters"
            " (ms: median; x boto3: median of each round's own ratio):",
            f"  import boto3     {statistics.median(boto3_ms):8.1f} ms  (the floor)",
            f"  import handler   {statistics.median(handler_ms):8.1f} ms  = {ratio:.2f} x boto3"
            f" ({verdict} the {TARGET_RATIO} x target)",
            f"  import handler   {statistics.median(collecting_ms):8.1f} ms  ="
            f" {paired_ratio(collecting_ms, boto3_ms):.2f} x boto3 with handler.py's pause of the garbage"
            " collector undone",
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

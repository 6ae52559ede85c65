"""`make fuzz`, second half: schemathesis against `make run`, from the gateway's own GET /openapi.json.

It generates requests from the request-body schemas (valid ones and, for the negative checks, ones
that break them) for FUZZ_SECONDS and checks every reply: never a 5xx, the status codes, content
types, headers and bodies the document declares (so every error has OpenAI's error shape), schema-
breaking bodies refused with a 4xx, and undeclared methods answered 405 with `Allow`.

Not checked: that every schema-valid body is accepted. The gateway refuses some on purpose for reasons
a JSON schema cannot say (a blank prompt, blocked content, all messages together over
MAX_PROMPT_CHARS), and the temperature bounds depend on configuration.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from bench.local_gateway import local_gateway

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "unsupported_method",
    "allow_header_conformance",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=120, help="schemathesis' time budget")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    schemathesis = Path(sys.executable).with_name("schemathesis")
    with local_gateway() as url:
        command = [
            str(schemathesis),
            "run",
            f"{url}/openapi.json",
            "--checks",
            ",".join(CHECKS),
            "--max-time",
            str(args.seconds),
            "--workers",
            str(args.workers),
            "--phases",
            "examples,fuzzing",
            "--no-color",
        ]
        print("make fuzz:", " ".join(command), flush=True)
        return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())

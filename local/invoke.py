"""`make invoke EVENT=events/<file>.json`: run one event through a handler, as `sam local invoke` would.

The function's variables come from env.json (the same file `sam local invoke --env-vars` reads),
then the local stack fills in what is missing (embedded AWS, built-in model).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from local.events import LambdaContext
from local.stack import local_stack
from local.startup import startup_block

# template.yaml logical id -> handler function
_ENTRY_POINTS = {"ApiFunction": "api_handler", "RotationFunction": "rotation_handler"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("event", type=Path)
    parser.add_argument(
        "--function",
        default="ApiFunction",
        choices=sorted(_ENTRY_POINTS),
        help="logical id in template.yaml and env.json",
    )
    parser.add_argument("--env-vars", type=Path, default=Path("env.json"))
    args = parser.parse_args()
    try:
        event = json.loads(args.event.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        parser.error(f"cannot read event {args.event}: {exc}")
    if args.env_vars.exists():
        variables = json.loads(args.env_vars.read_text(encoding="utf-8")).get(args.function, {})
        for name, value in variables.items():
            if value != "" and name not in os.environ:
                os.environ[name] = str(value)
    with local_stack() as stack:
        print("\n".join(startup_block(stack, os.environ, None)), file=sys.stderr)
        import handler

        entry = getattr(handler, _ENTRY_POINTS[args.function])
        print(
            json.dumps(entry(event, LambdaContext(function_name=args.function)), indent=2, ensure_ascii=False)
        )


if __name__ == "__main__":
    main()

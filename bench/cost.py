"""`make cost`: the estimated monthly AWS bill of the stack template.yaml deploys, at given request volumes.

    python -m bench.cost [--requests 10k,100k,1M] [--upstream-seconds 2] [--set Parameter=Value ...]
                         [--cacheable-share 0..1] [--stream-share 0..1] [--with FEATURE ...]

The deployment comes from template.yaml's parameter defaults (overridden with --set, checked against
the template's allowed values); the per-request figures (custom metric series, DynamoDB calls, log
bytes) are measured from the code by running the handler (bench/measure.py). Prices are us-east-1
list prices, after the 12-month AWS free tier: only the always-free allowances are applied.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence

from bench.cost_report import render
from bench.deployment import CostInputError, deployment_from_template

# This module is the command line (its docstring is --help's description). What it prices is read in
# bench/deployment.py, priced in bench/cost_estimate.py at bench/aws_prices.py's prices, and printed by
# bench/cost_report.py.


def parse_requests(text: str) -> list[int]:
    """--requests: counts such as 10k,100k,1M,2500 (k and M in either case)."""
    counts = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", part)
        if not match:
            raise CostInputError(
                f"bad request count {part.strip()!r}: use a number with an optional k or M, like 10k,100k,1M"
            )
        value = float(match.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[match.group(2).lower()]
        if not 1 <= value <= 1e10 or value != int(value):
            raise CostInputError(
                f"bad request count {part.strip()!r}: a whole number of requests from 1 to 10 billion"
            )
        counts.append(int(value))
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make cost", description=__doc__)
    parser.add_argument(
        "--requests", default="10k,100k,1M", help="request counts per month (default 10k,100k,1M)"
    )
    parser.add_argument(
        "--upstream-seconds",
        type=float,
        default=2.0,
        help="average time the model takes to answer (Lambda waits and is billed for it)",
    )
    parser.add_argument(
        "--cacheable-share",
        type=float,
        default=0.0,
        help="share of requests the response cache looks up (0-1), each counted as a miss",
    )
    parser.add_argument(
        "--stream-share",
        type=float,
        default=0.5,
        help="with EnableStreaming=true, the share of requests sent to the streaming URL (0-1, default 0.5)",
    )
    parser.add_argument(
        "--with",
        dest="features",
        action="append",
        default=[],
        metavar="FEATURE",
        help="an optional feature that writes to the table (bench/measure.py's OPTIONAL_FEATURES), priced on",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PARAMETER=VALUE",
        help="a template parameter other than its default, e.g. KeyStore=secretsmanager",
    )
    args = parser.parse_args(argv)
    try:
        counts = parse_requests(args.requests)
        if not 0 <= args.upstream_seconds <= 900:
            raise CostInputError("--upstream-seconds must be between 0 and 900")
        for option, share in (
            ("--cacheable-share", args.cacheable_share),
            ("--stream-share", args.stream_share),
        ):
            if not 0 <= share <= 1:
                raise CostInputError(f"{option} must be between 0 and 1")
        from bench.measure import OPTIONAL_FEATURES

        unknown = [feature for feature in args.features if feature not in OPTIONAL_FEATURES]
        if unknown:
            raise CostInputError(f"--with {unknown[0]!r}: the features are {', '.join(OPTIONAL_FEATURES)}")
        overrides = {}
        for item in args.set:
            name, sep, value = item.partition("=")
            if not sep or not name.strip():
                raise CostInputError(f"--set {item!r}: use PARAMETER=VALUE")
            overrides[name.strip()] = value.strip()
        from local.template import load_template

        deployment = deployment_from_template(load_template(), overrides)
    except CostInputError as exc:
        print(f"make cost: {exc}", file=sys.stderr)
        return 2
    from bench.measure import measure

    features = tuple(args.features)
    print(
        render(
            deployment,
            measure(),
            counts,
            args.upstream_seconds,
            overrides,
            args.cacheable_share,
            args.stream_share,
            features,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m bench.budget_shapes`: a daily budget and a free allowance (5,000 tokens each) under
adversarial request shapes, with PROCESSES gateway processes at once on dynalite (`npx dynalite`).

Each process is a container: the real handler in-process, its table on dynalite (where atomicity
across processes is real), the model an upstream on loopback that bills as much as OpenAI's
documented counting allows (bench/billing_upstream.py). Every process sends REQUESTS requests of each
shape, first against one caller's daily budget (one source address per shape, shared by all
processes), then under ZERO_COST against one free route per shape. Then, per shape: what the table
recorded against what the upstream billed and reported, and the overshoot past 5,000. The figures in
docs/reliability.md come from this run; tests/integration/test_budget_shapes.py runs a short one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

REPO = Path(__file__).resolve().parents[1]
LIMIT = 5000
TABLE = "budget-shapes"
MODES = ("budget", "allowance")
Figures = dict[str, dict[str, dict[str, Any]]]  # mode -> shape -> figure -> value


def _chat(content: Any, max_tokens: int, **fields: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": content}], "max_tokens": max_tokens, **fields}


def _images(count: int) -> list[dict[str, Any]]:
    images = [
        {"type": "image_url", "image_url": {"url": f"https://example.com/{n}.png"}} for n in range(count)
    ]
    return [{"type": "text", "text": "?"}, *images]


def _empty_messages(count: int) -> dict[str, Any]:
    return {
        "messages": [{"role": "user", "content": ""}] * count + [{"role": "user", "content": "hi"}],
        "max_tokens": 1,
    }


_TOOL = {"name": "tool", "description": "d " * 100, "parameters": {"type": "object", "properties": {"q": {}}}}
SHAPES: dict[str, dict[str, Any]] = {
    "1,800 empty messages": _empty_messages(1800),
    "300 empty messages": _empty_messages(300),
    "20 images": _chat(_images(20), 1),
    "2 images": _chat(_images(2), 1),
    "long tool definitions": _chat("hi", 16, tools=[{"type": "function", "function": _TOOL}] * 4),
    "600 CJK characters": _chat("".join(chr(0x4E00 + (n * 7919) % 20_000) for n in range(600)), 16),
    "dropped streams": _chat("hello", 100, stream=True),
}


def model_for(mode: str, shape: str) -> str:
    return f"{mode}-{list(SHAPES).index(shape)}"


def _send(body: dict[str, Any], source_ip: str) -> int:
    """One request through the real gateway; a dropped stream is read to its first piece, then closed."""
    import handler
    from lib.http.events import LambdaContext, http_api_event

    headers = [("content-type", "application/json")]
    event = http_api_event(
        "POST", "/v1/chat/completions", body=json.dumps(body).encode(), headers=headers, source_ip=source_ip
    )
    answer = handler.gateway.handle(event, LambdaContext())
    if body.get("stream") and answer.status == 200:
        next(answer.body, None)
        answer.body.close()  # type: ignore[attr-defined]  # the caller goes away after the first chunk
    else:
        b"".join(answer.body)
    return answer.status


def worker(settings: dict[str, Any]) -> None:
    """One process: every shape in budget mode, then in allowance mode. Writes its statuses to a file."""
    import handler  # noqa: F401 - imported before the start, as a warm container has it
    from lib import services

    shapes = settings["shapes"]
    statuses = {mode: {shape: Counter[int]() for shape in shapes} for mode in MODES}
    Path(f"{settings['out']}.ready").touch()
    go = Path(settings["go"])
    while not go.exists():  # waits for every process to be ready, so that they all start together
        time.sleep(0.01)
    for mode in MODES:
        os.environ.update(settings["env"][mode])
        services.reset()
        for shape in shapes:
            index, body = list(SHAPES).index(shape), SHAPES[shape]
            if mode == "budget":  # one caller per shape, shared by every process; the model passes on
                source_ip, model = f"198.51.100.{index + 1}", model_for(mode, shape)
            else:  # a caller per process, one free route per shape
                source_ip, model = f"198.51.101.{settings['process'] + 1}", f"free-{index}"
            for _ in range(settings["requests"]):
                statuses[mode][shape][_send({**body, "model": model}, source_ip)] += 1
    Path(settings["out"]).write_text(json.dumps(statuses))


@contextlib.contextmanager
def dynalite() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = ["npx", "--yes", "dynalite", "--host", "127.0.0.1", "--port", str(port), "--createTableMs", "0"]
    # Its own process group: npx runs dynalite as a child, which must stop with it (else it outlives the run).
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:  # waits for dynalite to listen (npx may first unpack it)
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("dynalite did not start (npx dynalite: needs Node.js and npm)")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


def _environments(folder: str, upstream_url: str, endpoint: str) -> dict[str, dict[str, str]]:
    routes = Path(folder) / "routes.toml"
    routes.write_text(
        "\n".join(
            f'[[route]]\nname = "free-{index}"\nprovider = "openai"\nendpoint = "{upstream_url}"\n'
            f'model = "{model_for("allowance", shape)}"\nkey = "env:BILLING_KEY"\n'
            f"free_tokens_per_month = {LIMIT}\n"
            for index, shape in enumerate(SHAPES)
        )
    )
    common = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "TABLE_NAME": TABLE,
        "AUTH_MODE": "none",
        "RATE_LIMIT_RPM": "100000",
        "RATE_LIMIT_BURST": "100000",
        "POWERTOOLS_SERVICE_NAME": "modelgate",
        "POWERTOOLS_METRICS_NAMESPACE": "modelgate",
    }
    return {
        "budget": {**common, "AI_MODEL_ENDPOINT": upstream_url, "DAILY_TOKEN_BUDGET": str(LIMIT)},
        "allowance": {
            **common,
            "ROUTES_FILE": str(routes),
            "BILLING_KEY": "sk-billing",
            "ZERO_COST": "true",
            "DAILY_TOKEN_BUDGET": str(10**12),  # the allowance, not the budget, is what refuses here
        },
    }


def _run_workers(
    folder: str, env: dict[str, dict[str, str]], processes: int, requests: int, shapes: list[str]
) -> list[Any]:
    go, launched = Path(folder) / "go", []
    for index in range(processes):
        out = f"{folder}/{index}.json"
        settings = {
            "env": env,
            "process": index,
            "requests": requests,
            "shapes": shapes,
            "go": str(go),
            "out": out,
        }
        command = [sys.executable, "-m", "bench.budget_shapes", "--worker", json.dumps(settings)]
        launched.append(subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL))
    while not all(Path(f"{folder}/{index}.json.ready").exists() for index in range(processes)):
        if any(process.poll() is not None for process in launched):
            raise RuntimeError("a worker ended before it was ready")
        time.sleep(0.05)  # waits for every worker to have imported the gateway
    go.touch()
    for process in launched:
        if process.wait(timeout=600) != 0:
            raise RuntimeError(f"a worker failed (exit status {process.returncode})")
    return [json.loads(Path(f"{folder}/{index}.json").read_text()) for index in range(processes)]


def run(processes: int, requests: int, out: TextIO | None = None, shapes: list[str] | None = None) -> Figures:
    """Figures per mode and shape (all of SHAPES unless named): served, refused, recorded, billed and
    reported tokens."""
    shapes = shapes or list(SHAPES)
    import boto3

    from bench.billing_upstream import BillingUpstream
    from lib.callers.identity import hash_key
    from local.aws import create_table

    upstream = BillingUpstream().start()
    try:
        with dynalite() as endpoint, tempfile.TemporaryDirectory() as folder:
            client = boto3.client(
                "dynamodb",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            create_table(client, TABLE)
            env = _environments(folder, upstream.base_url, endpoint)
            results = _run_workers(folder, env, processes, requests, shapes)
            day, month = time.strftime("%Y%m%d", time.gmtime()), time.strftime("%Y%m", time.gmtime())
            figures: Figures = {mode: {} for mode in MODES}
            for shape in shapes:
                index = list(SHAPES).index(shape)
                for mode in MODES:
                    if mode == "budget":
                        key, counter = (
                            ("LIMITS", "ip_" + hash_key(f"198.51.100.{index + 1}")[:12]),
                            f"tokens_{day}",
                        )
                    else:
                        key, counter = ("QUOTAS", f"free-{index}"), f"tokens_{month}"
                    item = client.get_item(TableName=TABLE, Key={"pk": {"S": key[0]}, "sk": {"S": key[1]}})
                    seen = Counter[str]()
                    for result in results:
                        seen.update(result[mode][shape])
                    bills = [bill for bill in upstream.bills if bill.model == model_for(mode, shape)]
                    figures[mode][shape] = {
                        "served": seen["200"],
                        "refused": sum(seen.values()) - seen["200"],
                        "recorded": int(item.get("Item", {}).get(counter, {"N": "0"})["N"]),
                        "billed": sum(bill.total_tokens for bill in bills),
                        "reported": sum(bill.total_tokens for bill in bills if bill.reported),
                        "unreported": sum(not bill.reported for bill in bills),
                        "reservation": _reservation(SHAPES[shape]),
                    }
    finally:
        upstream.stop()
    if out is not None:
        _print(figures, processes, requests, out)
    return figures


def _reservation(body: dict[str, Any]) -> int:
    from lib.core.request import ModelRequest

    extra = {"tools": body["tools"]} if "tools" in body else {}
    return ModelRequest("chat", "", body["max_tokens"], tuple(body["messages"]), extra=extra).reserved_tokens


def _print(figures: Figures, processes: int, requests: int, out: TextIO) -> None:
    print(f"{processes} processes x {requests} requests of each shape; limit {LIMIT} tokens", file=out)
    print(
        "| limit | shape | reserves | served / refused | recorded | billed (reported) | overshoot |", file=out
    )
    print("|---|---|---|---|---|---|---|", file=out)
    for mode, shapes in figures.items():
        for shape, row in shapes.items():
            unreported = f"; {row['unreported']} unreported" if row["unreported"] else ""
            print(
                f"| {mode} | {shape} | {row['reservation']} | {row['served']} / {row['refused']} | "
                f"{row['recorded']} | {row['billed']} ({row['reported']}{unreported}) | "
                f"{max(0, row['recorded'] - LIMIT)} |",
                file=out,
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--processes", type=int, default=10)
    parser.add_argument(
        "--requests", type=int, default=3, help="requests of each shape, per process and limit"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
    else:
        run(args.processes, args.requests, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Routing figures: the cost of choosing a route, and the table calls a request makes by configuration.

    python -m bench.routing        (part of `make bench`)

Choice: 50 routes with 5 keywords each, a 2,048-character prompt with no keyword (the whole prompt is
scanned: the worst case), in Latin and in CJK text; each figure is the median over many calls.
Calls: DynamoDB writes and reads per served request, counted from botocore's own events, with moto and
the built-in local model, for each routing configuration.
"""

from __future__ import annotations

import functools
import os
import random
import statistics
import string
import tempfile
import time
from collections import Counter

from bench.handler_harness import captured_output, environment, send_request

ROUTES, KEYWORDS_PER_ROUTE, PROMPT_CHARS, SAMPLES, SERVED = 50, 5, 2048, 2000, 20


def choice_figures() -> dict[str, float]:
    from lib.platform.route_table import Route, RouteTable
    from lib.routing.choice import RouteChooser

    rnd = random.Random(7)

    def word(low: int, high: int, alphabet: str) -> str:
        return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(low, high)))

    cjk = "".join(chr(code) for code in range(0x4E00, 0x4E00 + 3000))
    routes = {}
    for index in range(ROUTES):
        alphabet = string.ascii_lowercase if index % 2 else cjk[:1500]  # keywords drawn from one half
        keywords = tuple(word(4, 9, alphabet) if index % 2 else word(2, 3, alphabet) for _ in range(5))
        routes[f"r{index}"] = Route(f"r{index}", "openai", "m", "http://x/v1", "env:K", keywords=keywords)
    chooser = RouteChooser(RouteTable(routes, "r0", from_file=True))
    prompts = {
        "latin": " ".join(word(2, 8, "etaoinshrdlucmfwyp") for _ in range(600))[:PROMPT_CHARS],
        "cjk": "".join(rnd.choice(cjk[1500:]) for _ in range(PROMPT_CHARS)),  # the other half: no match
    }
    figures = {}
    for name, prompt in prompts.items():
        assert chooser.choose("", None, prompt).name == "r0"  # no keyword: the default
        samples = []
        for _ in range(SAMPLES):
            started = time.perf_counter()
            chooser.choose("", None, prompt)
            samples.append((time.perf_counter() - started) * 1000)
        figures[name] = statistics.median(samples)
    return figures


ROUTE_FILES = {
    "single model (no ROUTES_FILE)": None,
    "routes, no allowance": "",
    "routes, free allowance counted": "free_tokens_per_month = 1000000",
    "routes, ZERO_COST with allowance": "free_tokens_per_month = 1000000\nprice_per_1k_tokens = 0.001",
}


ROUTE = """[[route]]
name = "general"
provider = "openai"
endpoint = "{url}"
model = "modelgate-local"
key = "env:LOCAL_KEY"
{extra}
"""


def _count(calls: Counter[str], model: object, **_: object) -> None:
    calls.update([getattr(model, "name", "")])


def calls_per_request() -> dict[str, tuple[float, float]]:
    from moto import mock_aws

    from lib import services
    from local.aws import create_table
    from local.model import LocalModel

    model = LocalModel().start()
    results = {}
    base = {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AI_MODEL_ENDPOINT": model.base_url,
        "AI_MODEL_NAME": "modelgate-local",
        "AUTH_MODE": "none",
        "TABLE_NAME": "routing",
        "RATE_LIMIT_RPM": "100000",
        "DAILY_TOKEN_BUDGET": "1000000000",
        "LOCAL_KEY": "local",
    }
    try:
        with tempfile.TemporaryDirectory() as folder, environment(base), mock_aws():
            import boto3

            os.environ.pop("AWS_ENDPOINT_URL", None)
            create_table(boto3.client("dynamodb"), "routing")
            for label, extra in ROUTE_FILES.items():
                os.environ.pop("ROUTES_FILE", None)
                os.environ["ZERO_COST"] = str("ZERO_COST" in label).lower()
                if extra is not None:
                    path = os.path.join(folder, "routes.toml")
                    with open(path, "w", encoding="utf-8") as file:
                        file.write(ROUTE.format(url=model.base_url, extra=extra))
                    os.environ["ROUTES_FILE"] = path
                services.reset()
                with captured_output():
                    assert send_request() == 200  # build the clients before counting
                    client = services.get_services().limiter._table._client  # type: ignore[union-attr]
                    calls: Counter[str] = Counter()
                    count = functools.partial(_count, calls)
                    client.meta.events.register("before-call", count)
                    for _ in range(SERVED):
                        assert send_request() == 200
                    client.meta.events.unregister("before-call", count)
                writes = (calls["UpdateItem"] + calls["PutItem"]) / SERVED
                reads = (calls["GetItem"] + calls["Query"]) / SERVED
                results[label] = (writes, reads)
            services.reset()
    finally:
        model.stop()
    return results


def main() -> None:
    figures = choice_figures()
    print(
        f"route choice, {ROUTES} routes x {KEYWORDS_PER_ROUTE} keywords, {PROMPT_CHARS}-char prompt "
        f"(median of {SAMPLES}): latin {figures['latin']:.3f} ms, cjk {figures['cjk']:.3f} ms"
    )
    print(f"DynamoDB calls per served request (mean of {SERVED}):")
    for label, (writes, reads) in calls_per_request().items():
        print(f"  {label:<36} {writes:.1f} writes, {reads:.1f} reads")


if __name__ == "__main__":
    main()

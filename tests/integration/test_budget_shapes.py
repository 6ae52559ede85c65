"""The adversarial shapes of issue 21 against a 5,000-token budget and free allowance, with an upstream
that bills as much as OpenAI's documented counting allows (bench/billing_upstream.py): refused
before the provider when the reservation does not fit, charged exactly what the provider reported
when served, and never more billed than reserved. Then the same with processes at once on dynalite."""

from __future__ import annotations

import shutil
import socket

import pytest

from bench import budget_shapes
from bench.billing_upstream import BillingUpstream
from lib import services
from lib.core.request import ModelRequest
from tests.conftest import TABLE_NAME, call
from tests.integration.test_free_quotas import month_tokens
from tests.integration.test_routing import write_routes

SHAPES = budget_shapes.SHAPES


@pytest.fixture
def billing(aws, gateway_env):
    upstream = BillingUpstream().start()
    gateway_env.setenv("AI_MODEL_ENDPOINT", upstream.base_url)
    gateway_env.setenv("DAILY_TOKEN_BUDGET", "5000")
    services.reset()
    yield upstream
    upstream.stop()


def tokens_today() -> int:
    return int(call("GET", "/v1/usage").json["tokens_today"])


def reserved(body: dict) -> int:
    extra = {"tools": body["tools"]} if "tools" in body else {}
    return ModelRequest("chat", "", body["max_tokens"], tuple(body["messages"]), extra=extra).reserved_tokens


def new_day(aws) -> None:
    """The caller's limit item gone: a fresh day's budget for the next shape."""
    for item in aws.scan(TableName=TABLE_NAME)["Items"]:
        if item["pk"]["S"] == "LIMITS":
            aws.delete_item(TableName=TABLE_NAME, Key={"pk": item["pk"], "sk": item["sk"]})


def test_a_shape_that_can_never_fit_is_refused_before_the_provider(billing):
    for shape in ("1,800 empty messages", "20 images"):
        # Given a caller's 5,000-token day and a request whose input alone may bill more
        # (1,800 empty messages: 7,208 tokens by OpenAI's counting; 20 images: up to 1,445 each)
        # When it is sent
        reply = call("POST", "/v1/chat/completions", SHAPES[shape])
        # Then it is refused, and nothing reached the provider or the budget
        assert reply.status == 429 and reply.error["code"] == "budget_exceeded", shape
    assert billing.bills == [] and tokens_today() == 0


def test_each_shape_is_charged_what_the_provider_reported_within_its_reservation(aws, billing):
    for shape in ("300 empty messages", "2 images", "long tool definitions", "600 CJK characters"):
        new_day(aws)
        billing.bills.clear()
        # Given requests of one shape until the day's budget refuses one
        statuses = [call("POST", "/v1/chat/completions", SHAPES[shape]).status for _ in range(5)]
        # Then some were served and the rest refused once their reservation no longer fitted
        served = statuses.count(200)
        assert served >= 1 and statuses == [200] * served + [429] * (5 - served), shape
        # And the day recorded exactly what the provider billed and reported, within the budget
        assert [bill.reported for bill in billing.bills] == [True] * served, shape
        assert tokens_today() == sum(bill.total_tokens for bill in billing.bills) <= 5000, shape
        # And no request was billed more than it reserved: the reservation is an upper bound
        assert max(bill.total_tokens for bill in billing.bills) <= reserved(SHAPES[shape]), shape


def test_a_free_allowance_is_charged_what_the_provider_reported(aws, gateway_env, tmp_path):
    # Given a route with a 5,000-token free allowance under ZERO_COST
    upstream = BillingUpstream().start()
    try:
        routes = (
            f'[[route]]\nname = "free"\nprovider = "openai"\nendpoint = "{upstream.base_url}"\nmodel = "m"\n'
            'key = "env:K"\nfree_tokens_per_month = 5000\n'
        )
        gateway_env.setenv("ROUTES_FILE", write_routes(tmp_path, routes))
        gateway_env.setenv("K", "sk-billing")
        gateway_env.setenv("ZERO_COST", "true")
        gateway_env.setenv("DAILY_TOKEN_BUDGET", str(10**9))
        services.reset()
        # When CJK requests are sent until the allowance refuses one
        statuses = [
            call("POST", "/v1/chat/completions", SHAPES["600 CJK characters"]).status for _ in range(4)
        ]
        # Then the month recorded what the provider reported, and the allowance held
        served = statuses.count(200)
        assert served >= 1 and statuses == [200] * served + [429] * (4 - served)
        assert statuses[-1] == 429
        assert month_tokens(aws, "free") == sum(bill.total_tokens for bill in upstream.bills) <= 5000
    finally:
        upstream.stop()


@pytest.mark.skipif(shutil.which("npx") is None, reason="needs npx (Node.js) for dynalite")
def test_dynalite_stops_with_the_run():
    # Given dynalite started for a run (npx starts it as a child of its own)
    with budget_shapes.dynalite() as endpoint:
        port = int(endpoint.rsplit(":", 1)[1])
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    # Then nothing listens on its port once the run is over (it used to outlive every run)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


@pytest.mark.skipif(shutil.which("npx") is None, reason="needs npx (Node.js) for dynalite")
def test_processes_at_once_on_dynalite_record_what_the_provider_reported():
    # Given 3 gateway processes at once, with the shapes that fit (bench/budget_shapes.py runs 10 with
    # every shape for the docs' figures; the ones that never fit are refused before any table write)
    shapes = ["600 CJK characters", "300 empty messages", "dropped streams"]
    figures = budget_shapes.run(processes=3, requests=2, shapes=shapes)
    for mode, rows in figures.items():
        for shape, row in rows.items():
            where = f"{mode}, {shape}: {row}"
            # Then whatever was served of a shape recorded exactly what the provider reported
            if shape != "dropped streams":
                assert row["recorded"] == row["reported"] == row["billed"], where
            else:  # never reported: the input's bound and what streamed, at least what was billed
                assert row["billed"] <= row["recorded"] < row["served"] * row["reservation"], where
            # And the limit held: an overshoot could only come from the reservations in flight
            assert row["recorded"] <= budget_shapes.LIMIT, where

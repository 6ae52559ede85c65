"""POST /api/generate/batch through the handler: order, per-item outcomes, bounded concurrency, deadline."""

from __future__ import annotations

import time
import uuid

import pytest

from lib import services
from lib.apis import generate_batch as batch
from lib.apis.generate_batch import MAX_CONCURRENT_ITEMS
from local.aws import EmbeddedAws
from tests.conftest import call
from tests.support.fake_upstream import Behaviour
from tests.support.gateway_table import create_gateway_table

BATCH = "/api/generate/batch"


def item(index, **fields):
    # Single-model mode passes the caller's model on, and the fake upstream echoes it: a tag per item.
    return {"prompt": f"question {index}", "model": f"m{index}", **fields}


@pytest.fixture
def table(gateway_env):
    """The gateway table on moto's server (requests serialised, so conditional writes stay exact
    while items run side by side)."""
    aws = EmbeddedAws().start()
    name = f"batch-{uuid.uuid4().hex[:8]}"  # moto's state outlives the server: a fresh table per test
    create_gateway_table(aws.client("dynamodb"), name)
    gateway_env.setenv("AWS_ENDPOINT_URL", aws.endpoint_url)
    gateway_env.setenv("TABLE_NAME", name)
    services.reset()
    yield aws
    services.reset()
    aws.stop()


class TestResults:
    def test_results_keep_the_order_sent(self, gateway_env, upstream):
        upstream.then(*(Behaviour(delay_s=0.05 * (6 - index)) for index in range(6)))
        reply = call("POST", BATCH, {"requests": [item(index) for index in range(6)]})
        assert reply.status == 200
        results = reply.json["results"]
        assert [result["status"] for result in results] == [200] * 6
        assert [result["body"]["model"] for result in results] == [f"m{index}" for index in range(6)]
        assert all(result["body"]["text"] == "hello from upstream" for result in results)

    def test_an_invalid_item_is_a_400_result_and_the_others_are_served(self, gateway_env, upstream):
        reply = call("POST", BATCH, {"requests": [item(0), {"prompt": ""}, item(2, temperature=5)]})
        assert reply.status == 200
        statuses = [result["status"] for result in reply.json["results"]]
        assert statuses == [200, 400, 400]
        assert reply.json["results"][1]["body"]["error"]["param"] == "prompt"
        assert reply.json["results"][2]["body"]["error"]["param"] == "temperature"
        assert len(upstream.received) == 1

    def test_an_item_says_a_clamped_temperature_in_its_result(self, gateway_env, upstream):
        reply = call("POST", BATCH, {"requests": [item(0, temperature=0), item(1, temperature=0.5)]})
        first, second = reply.json["results"]
        assert first["headers"]["X-Temperature-Clamped"] == "0->0.1"
        assert "X-Temperature-Clamped" not in second["headers"]
        assert "x-temperature-clamped" not in reply.headers  # the batch's own headers say nothing of items

    def test_a_bug_in_one_item_is_a_500_result_not_a_failed_batch(self, gateway_env, upstream, monkeypatch):
        real_complete = batch.complete

        def failing_on_the_second(request, *args, **kwargs):
            if request.model == "m1":
                raise RuntimeError("a bug of ours")
            return real_complete(request, *args, **kwargs)

        monkeypatch.setattr(batch, "complete", failing_on_the_second)
        reply = call("POST", BATCH, {"requests": [item(0), item(1), item(2)]})
        assert reply.status == 200
        assert [result["status"] for result in reply.json["results"]] == [200, 500, 200]
        assert reply.json["results"][1]["body"]["error"]["code"] == "internal_error"
        assert "a bug of ours" not in reply.text

    def test_items_over_the_rate_limit_are_429_results_with_retry_after(
        self, table, gateway_env, upstream, monkeypatch
    ):
        # One at a time: items admitted side by side may reach the bucket out of their clock order,
        # and GCRA then refuses the earlier-stamped one, which would make the count vary.
        monkeypatch.setattr(batch, "MAX_CONCURRENT_ITEMS", 1)
        gateway_env.setenv("RATE_LIMIT_RPM", "1")
        gateway_env.setenv("RATE_LIMIT_BURST", "2")
        services.reset()
        reply = call("POST", BATCH, {"requests": [item(index) for index in range(3)]})
        assert reply.status == 200
        results = reply.json["results"]
        assert [result["status"] for result in results] == [200, 200, 429]
        refused = results[2]
        assert refused["body"]["error"]["code"] == "rate_limit_exceeded"
        assert int(refused["headers"]["Retry-After"]) >= 1
        assert len(upstream.received) == 2

    def test_an_item_says_x_cache_in_its_result(self, table, upstream):
        call("POST", "/api/generate", item(0, seed=3))
        reply = call("POST", BATCH, {"requests": [item(0, seed=3), item(1, seed=3)]})
        assert [result["headers"]["x-cache"] for result in reply.json["results"]] == ["hit", "miss"]
        assert len(upstream.received) == 2


class TestConcurrencyAndDeadline:
    def test_items_run_side_by_side_but_never_more_than_the_bound(self, gateway_env, upstream):
        upstream.then(*(Behaviour(delay_s=0.3) for _ in range(10)))
        reply = call("POST", BATCH, {"requests": [item(index) for index in range(10)]})
        assert [result["status"] for result in reply.json["results"]] == [200] * 10
        assert 1 < upstream.max_in_flight <= MAX_CONCURRENT_ITEMS

    def test_the_items_share_one_deadline(self, gateway_env, upstream):
        # 8 items of 1.5 s each, 4 at a time, within one 2 s deadline: the second wave has 0.5 s left.
        # With a deadline per item the batch would take 3 s and every item would succeed.
        gateway_env.setenv("AI_MODEL_TIMEOUT_S", "2")
        gateway_env.setenv("AI_MODEL_MAX_RETRIES", "0")
        services.reset()
        upstream.then(*(Behaviour(delay_s=1.5) for _ in range(8)))
        started = time.monotonic()
        reply = call("POST", BATCH, {"requests": [item(index) for index in range(8)]})
        elapsed = time.monotonic() - started
        statuses = [result["status"] for result in reply.json["results"]]
        # The 504s are the proof (with a deadline per item every item would succeed); the time only shows
        # the batch did not wait its items out, with room for a loaded machine
        assert reply.status == 200 and 504 in statuses
        assert elapsed < 4.5, f"the batch took {elapsed:.2f} s: its items did not share the 2 s deadline"


class TestBadBatches:
    @pytest.mark.parametrize(
        ("body", "param", "says"),
        [
            ({"requests": []}, "requests", "empty"),
            ({"requests": [item(index) for index in range(17)]}, "requests", "limit is 16"),
            ({"requests": [item(0), "a prompt", item(2)]}, "requests[1]", "requests[1] must be an object"),
            ({"prompt": "not a batch"}, "requests", '{"requests"'),
        ],
        ids=["empty", "over-the-limit", "item-not-an-object", "no-requests"],
    )
    def test_a_bad_batch_is_400_naming_the_item(self, gateway_env, upstream, body, param, says):
        reply = call("POST", BATCH, body)
        assert reply.status == 400
        assert reply.error["param"] == param and says in reply.error["message"]
        assert upstream.received == []

    def test_batch_max_items_sets_the_limit(self, gateway_env, upstream):
        gateway_env.setenv("BATCH_MAX_ITEMS", "2")
        services.reset()
        reply = call("POST", BATCH, {"requests": [item(index) for index in range(3)]})
        assert reply.status == 400 and "limit is 2 (BATCH_MAX_ITEMS)" in reply.error["message"]


class TestTelemetry:
    def test_each_item_is_a_logged_and_counted_request_naming_the_batch(self, gateway_env, upstream, output):
        reply = call("POST", BATCH, {"requests": [item(0), {"prompt": ""}]})
        assert reply.status == 200
        first, second, batch = output.access_lines()
        assert first["batch"] == second["batch"] == batch["batch"] is not None
        assert (first["batch_item"], second["batch_item"]) == (0, 1)
        assert (first["status"], first["outcome"]) == (200, "ok")
        assert (second["status"], second["outcome"]) == (400, "input_rejected")
        assert batch["batch_items"] == 2 and batch["route"] == f"POST {BATCH}"
        values = [blob["Requests"] for blob in output.metric_blobs() if "Requests" in blob]
        counted = sum(sum(value) if isinstance(value, list) else value for value in values)
        assert counted == 3  # each item, and the batch itself

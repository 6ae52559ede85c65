"""Rate limits and budgets on DynamoDB (moto): exact under concurrency, shared across processes."""

import io
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from subprocess import PIPE

import pytest

from lib import services
from lib.admin import cli as admin
from lib.admin.usage import print_usage
from lib.callers import limits
from lib.callers.identity import Caller
from lib.callers.limits import Limiter
from lib.core.token_estimate import MESSAGE_TOKENS, REQUEST_TOKENS
from lib.platform.config import load_settings
from lib.platform.errors import BudgetExceeded, RateLimited, StoreUnavailable
from lib.platform.store import Table
from local.aws import EmbeddedAws
from tests.conftest import TABLE_NAME, call
from tests.support.fake_upstream import Behaviour
from tests.support.gateway_table import create_gateway_table

REPO = Path(__file__).resolve().parents[2]
T0 = 1_795_000_000.0  # a fixed instant (2026-11-18 09:46:40 UTC), far from midnight


class Clock:
    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now


def limiter(client, clock, **env):
    settings = load_settings({"AUTH_MODE": "none", "TABLE_NAME": TABLE_NAME, **env})
    return Limiter(Table(client, TABLE_NAME), settings, clock=clock)


def caller(rpm=60, burst=5, daily_tokens=5000, caller_id="key_abc"):
    return Caller(caller_id, "tester", rpm, burst, daily_tokens)


@pytest.fixture
def embedded_aws():
    """A moto server on loopback (what `make run` uses), for tests that need real concurrency."""
    aws = EmbeddedAws().start()
    create_gateway_table(aws.client("dynamodb"), TABLE_NAME)
    yield aws
    aws.stop()


class TestContainerState:
    def test_the_per_caller_bucket_hints_are_bounded(self, aws, monkeypatch):
        # Given a container that remembers at most 5 callers' bucket times
        monkeypatch.setattr(limits, "CALLER_STATE_LIMIT", 5)
        clock = Clock()
        gate = limiter(aws, clock)
        # When 50 callers (source addresses in AUTH_MODE=none) come and go
        for index in range(50):
            gate.admit(caller(caller_id=f"ip_{index:012d}"), 1)
        # Then it remembers only the most recent ones, and the limits stay exact for all
        assert len(gate._last_tat_ms) == 5
        who = caller(rpm=60, burst=1, caller_id="ip_000000000000")
        with pytest.raises(RateLimited):
            gate.admit(who, 1)


class TestTokenBucket:
    def test_burst_then_refusal_with_retry_after(self, aws):
        clock = Clock()
        gate = limiter(aws, clock)
        who = caller(rpm=60, burst=3)
        for _ in range(3):
            gate.admit(who, 0)
        with pytest.raises(RateLimited) as refused:
            gate.admit(who, 0)
        assert refused.value.retry_after_s == 1
        assert refused.value.status == 429 and refused.value.code == "rate_limit_exceeded"

    def test_the_bucket_refills_at_the_configured_rate(self, aws):
        clock = Clock()
        gate = limiter(aws, clock)
        who = caller(rpm=6, burst=2)  # one token every 10 s
        gate.admit(who, 0)
        gate.admit(who, 0)
        with pytest.raises(RateLimited) as refused:
            gate.admit(who, 0)
        assert refused.value.retry_after_s == 10
        clock.now += 9.9
        with pytest.raises(RateLimited):
            gate.admit(who, 0)
        clock.now += 0.1
        gate.admit(who, 0)  # exactly one token came back
        with pytest.raises(RateLimited):
            gate.admit(who, 0)
        clock.now += 60  # long idle: the bucket is full again, but never above the burst
        gate.admit(who, 0)
        gate.admit(who, 0)
        with pytest.raises(RateLimited):
            gate.admit(who, 0)

    def test_fifty_concurrent_requests_admit_exactly_n(self, embedded_aws):
        limit = 7
        clock = Clock()
        who = caller(rpm=1, burst=limit)  # no refill within the test
        outcomes = Counter()
        lock = threading.Lock()
        barrier = threading.Barrier(50)

        def one_container():
            # Each thread is its own "container": its own client and in-memory state, real HTTP calls.
            gate = limiter(embedded_aws.client("dynamodb"), clock)
            barrier.wait()
            try:
                gate.admit(who, 0)
                outcome = "admitted"
            except RateLimited:
                outcome = "refused"
            with lock:
                outcomes[outcome] += 1

        threads = [threading.Thread(target=one_container) for _ in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert outcomes == {"admitted": limit, "refused": 50 - limit}

    def test_the_common_path_is_one_write_and_no_read(self, aws):
        calls = []
        aws.meta.events.register("before-call", lambda model, **_: calls.append(model.name))
        clock = Clock()
        gate = limiter(aws, clock)
        who = caller(rpm=600, burst=100)
        admission = gate.admit(who, 50)  # idle shape
        gate.settle(admission, 20, 0.0)
        gate.admit(who, 50)  # busy shape, guessed from the remembered state
        assert calls == ["UpdateItem", "UpdateItem", "UpdateItem"]


class TestWhatARefusalCosts:
    """Junk at the HTTP API's throttle must not exhaust the table: a refusal is one write and no read."""

    @staticmethod
    def recorded(client):
        calls = []
        client.meta.events.register("before-call", lambda model, **_: calls.append(model.name))
        return calls

    def test_a_rate_refusal_is_one_failed_write_and_no_read(self, aws):
        clock = Clock()
        who = caller(rpm=60, burst=2)
        for _ in range(2):
            limiter(aws, clock).admit(who, 0)  # other containers took the burst
        calls = self.recorded(aws)
        with pytest.raises(RateLimited) as refused:
            limiter(aws, clock).admit(who, 0)  # a container that knows nothing about this caller
        assert calls == ["UpdateItem"]
        assert refused.value.retry_after_s == 1

    def test_a_budget_refusal_is_one_failed_write_and_no_read(self, aws):
        clock = Clock()
        who = caller(daily_tokens=100)
        limiter(aws, clock).admit(who, 100)
        calls = self.recorded(aws)
        with pytest.raises(BudgetExceeded):
            limiter(aws, clock).admit(who, 1)
        assert calls == ["UpdateItem"]

    def test_a_caller_this_container_saw_over_its_limit_is_refused_without_a_call(self, aws):
        clock = Clock()
        gate = limiter(aws, clock)
        who = caller(rpm=60, burst=2)
        gate.admit(who, 0)
        gate.admit(who, 0)
        calls = self.recorded(aws)
        for _ in range(5):
            with pytest.raises(RateLimited) as refused:
                gate.admit(who, 0)
        assert calls == [] and refused.value.retry_after_s == 1
        clock.now += 1.0  # one token back: the container asks the table again
        gate.admit(who, 0)
        assert calls == ["UpdateItem"]

    def test_a_wrong_guess_of_the_item_costs_one_more_write_not_a_refusal(self, aws):
        clock = Clock()
        who = caller(rpm=60, burst=3)
        limiter(aws, clock).admit(who, 0)  # another container: the item is busy now
        calls = self.recorded(aws)
        limiter(aws, clock).admit(who, 0)  # guesses idle, learns busy from the failed write
        assert calls == ["UpdateItem", "UpdateItem"]

    def test_a_store_that_does_not_return_the_item_is_still_refused_correctly(self, aws):
        clock = Clock()
        who = caller(rpm=60, burst=1)
        limiter(aws, clock).admit(who, 0)
        # Emulators without ReturnValuesOnConditionCheckFailure: the refusal falls back to a read.
        aws.meta.events.register(
            "before-parameter-build.dynamodb.UpdateItem",
            lambda params, **_: params.pop("ReturnValuesOnConditionCheckFailure", None),
        )
        calls = self.recorded(aws)
        with pytest.raises(RateLimited) as refused:
            limiter(aws, clock).admit(who, 0)
        assert calls == ["UpdateItem", "UpdateItem", "GetItem"] and refused.value.retry_after_s == 1


class TestBudget:
    def test_a_reservation_is_admitted_only_while_it_fits_in_what_is_left(self, aws):
        # Given a caller with 100 tokens a day that used 60, then 30 of a 40-token reservation
        clock = Clock()
        gate = limiter(aws, clock)
        who = caller(daily_tokens=100)
        gate.settle(gate.admit(who, 80), 60, 0.0)
        gate.settle(gate.admit(who, 40), 30, 0.0)  # 60 + 40 fits exactly: admitted
        # When a request reserves 11 of the 10 left
        with pytest.raises(BudgetExceeded) as refused:
            gate.admit(who, 11)
        # Then it is refused before anything is spent, saying why; 10 still fit
        assert refused.value.code == "budget_exceeded" and refused.value.status == 429
        assert "up to 11 tokens" in refused.value.message and "the 10 left" in refused.value.message
        assert refused.value.retry_after_s == 86_400 - int(T0) % 86_400
        gate.admit(who, 10)
        clock.now += 86_400  # the next day's window starts from zero
        gate.admit(who, 100)

    def test_usage_above_the_reservation_is_recorded_as_reported(self, aws):
        # Given a provider that reports 150 tokens for a request that reserved 60
        gate = limiter(aws, Clock())
        who = caller(daily_tokens=100)
        gate.settle(gate.admit(who, 60), 150, 0.0)
        # Then the day records 150 (an underestimate shows), and the budget is used up
        assert gate.usage(who)["tokens_today"] == 150
        with pytest.raises(BudgetExceeded, match="used up"):
            gate.admit(who, 1)

    def test_a_request_larger_than_the_whole_budget_is_refused_without_a_table_call(self, aws):
        gate = limiter(aws, Clock())
        calls = TestWhatARefusalCosts.recorded(aws)
        with pytest.raises(BudgetExceeded, match="up to 101 tokens"):
            gate.admit(caller(daily_tokens=100), 101)
        assert calls == []

    def test_reservations_of_requests_in_flight_count(self, aws):
        gate = limiter(aws, Clock())
        who = caller(daily_tokens=100)
        gate.admit(who, 100)  # in flight, reserved the whole budget
        with pytest.raises(BudgetExceeded):
            gate.admit(who, 1)

    def test_usage_reports_what_is_left(self, aws):
        gate = limiter(aws, Clock())
        who = caller(daily_tokens=1000)
        gate.settle(gate.admit(who, 100), 30, 0.002)
        report = gate.usage(who)
        assert report["requests_today"] == 1 and report["tokens_today"] == 30
        assert report["remaining_tokens_today"] == 970 and report["tokens_this_month"] == 30
        assert report["cost_usd_this_month"] == pytest.approx(0.002)

    def test_a_global_budget_stops_every_caller(self, aws):
        gate = limiter(aws, Clock(), GLOBAL_DAILY_TOKEN_BUDGET="50")
        gate.settle(gate.admit(caller(caller_id="key_a"), 10), 60, 0.0)
        with pytest.raises(BudgetExceeded) as refused:
            gate.admit(caller(caller_id="key_b"), 10)
        assert "global" in refused.value.message


class TestThroughTheHandler:
    def test_429_with_retry_after_in_the_openai_shape(self, aws, gateway_env):
        # One request a minute refills the burst: a loaded machine cannot take that long between them
        gateway_env.setenv("RATE_LIMIT_RPM", "1")
        gateway_env.setenv("RATE_LIMIT_BURST", "2")
        services.reset()
        statuses = [call("POST", "/api/generate", {"prompt": "p"}).status for _ in range(2)]
        refused = call("POST", "/api/generate", {"prompt": "p"})
        assert statuses == [200, 200]
        assert refused.status == 429 and int(refused.headers["retry-after"]) >= 1
        assert refused.error["type"] == "rate_limit_error" and refused.error["code"] == "rate_limit_exceeded"

    def test_budget_exceeded_after_real_usage(self, aws, gateway_env, upstream):
        small = {"prompt": "p", "max_tokens": 4}  # reserves the input's bound (17) and max_tokens
        gateway_env.setenv("DAILY_TOKEN_BUDGET", str(REQUEST_TOKENS + MESSAGE_TOKENS + 1 + 4))
        services.reset()
        assert call("POST", "/api/generate", small).status == 200  # the upstream reports 15 tokens
        refused = call("POST", "/api/generate", small)  # 21 does not fit in the 6 left
        assert refused.status == 429 and refused.error["code"] == "budget_exceeded"
        assert len(upstream.received) == 1
        usage = call("GET", "/v1/usage").json
        assert usage["tokens_today"] == 15 and usage["remaining_tokens_today"] == 6
        # Listing models spends no tokens: rate-limited, never refused for the budget.
        assert call("GET", "/v1/models").status == 200

    def test_a_failed_call_that_may_have_been_billed_is_charged_its_reservation(
        self, aws, gateway_env, upstream
    ):
        # A deadline with room for the admission's store calls on a loaded machine: the call must reach
        # the upstream, which answers long after it.
        gateway_env.setenv("AI_MODEL_TIMEOUT_S", "2")
        services.reset()
        upstream.then(*[Behaviour(delay_s=30) for _ in range(4)])
        assert call("POST", "/api/generate", {"prompt": "12345", "max_tokens": 10}).status == 504
        # The reservation: the input's bound ("12345" in one message) and max_tokens 10
        assert call("GET", "/v1/usage").json["tokens_today"] == REQUEST_TOKENS + MESSAGE_TOKENS + 5 + 10

    def test_a_refused_upstream_call_is_not_charged(self, aws, upstream):
        upstream.then(*[Behaviour(500, {}) for _ in range(4)])
        assert call("POST", "/api/generate", {"prompt": "12345", "max_tokens": 10}).status == 502
        assert call("GET", "/v1/usage").json["tokens_today"] == 0

    def test_store_down_fails_closed_by_default(self, aws, gateway_env, upstream):
        gateway_env.setenv("TABLE_NAME", "no-such-table")
        services.reset()
        reply = call("POST", "/api/generate", {"prompt": "p"})
        assert reply.status == 503 and reply.error["code"] == "store_unavailable"
        assert upstream.received == []

    def test_store_down_fails_open_when_asked(self, aws, gateway_env, upstream, output):
        gateway_env.setenv("TABLE_NAME", "no-such-table")
        gateway_env.setenv("RATE_LIMIT_FAIL_MODE", "open")
        services.reset()
        assert call("POST", "/api/generate", {"prompt": "p"}).status == 200
        assert len(upstream.received) == 1
        assert (
            output.access_lines()[-1]["store_failures"] == 2
        )  # the admission and the settlement both failed


class TestClientKeys:
    @pytest.fixture
    def keyed(self, aws, gateway_env):
        gateway_env.setenv("AUTH_MODE", "keys")
        services.reset()
        out = io.StringIO()
        assert (
            admin.main(
                ["--table", TABLE_NAME, "keys", "create", "--name", "alice", "--rpm", "100"],
                out=out,
                dynamodb_client=aws,
            )
            == 0
        )
        text = out.getvalue()
        key = text.split("key:")[1].split()[0]
        key_id = text.split("key id:")[1].split()[0]
        return key, key_id

    def test_a_created_key_works_with_bearer_and_x_api_key(self, keyed):
        key, key_id = keyed
        assert (
            call("POST", "/api/generate", {"prompt": "p"}, headers={"Authorization": f"Bearer {key}"}).status
            == 200
        )
        usage = call("GET", "/v1/usage", headers={"x-api-key": key}).json
        assert usage["caller"] == key_id and usage["name"] == "alice"
        assert usage["limits"]["requests_per_minute"] == 100 and usage["requests_today"] == 1

    @pytest.mark.parametrize(
        ("headers", "says"),
        [
            ({}, "missing client key"),
            ({"Authorization": "Basic abc"}, "malformed Authorization"),
            ({"Authorization": "Bearer"}, "malformed Authorization"),
            ({"Authorization": "Bearer a b"}, "malformed"),
            ({"Authorization": "Bearer mg-unknown-key-0123456789abcdef"}, "unknown client key"),
        ],
    )
    def test_missing_malformed_or_unknown_keys_are_401(self, keyed, upstream, headers, says):
        reply = call("POST", "/api/generate", {"prompt": "p"}, headers=headers)
        assert reply.status == 401 and says in reply.error["message"]
        assert reply.error["type"] == "authentication_error"
        assert upstream.received == []

    def test_a_disabled_key_is_refused_and_can_be_enabled_again(self, keyed, aws, gateway_env):
        gateway_env.setenv("CALLER_CACHE_TTL_S", "0")
        services.reset()
        key, key_id = keyed
        assert (
            admin.main(
                ["--table", TABLE_NAME, "keys", "disable", key_id], out=io.StringIO(), dynamodb_client=aws
            )
            == 0
        )
        reply = call("POST", "/api/generate", {"prompt": "p"}, headers={"x-api-key": key})
        assert reply.status == 401 and reply.error["code"] == "key_disabled"
        admin.main(["--table", TABLE_NAME, "keys", "enable", key_id], out=io.StringIO(), dynamodb_client=aws)
        assert call("POST", "/api/generate", {"prompt": "p"}, headers={"x-api-key": key}).status == 200

    def test_the_key_is_never_stored_or_logged_in_clear(self, keyed, aws, output):
        key, _ = keyed
        call("POST", "/api/generate", {"prompt": "p"}, headers={"Authorization": f"Bearer {key}"})
        call("POST", "/api/generate", {"prompt": "p"}, headers={"Authorization": f"Bearer {key}x"})
        items = aws.scan(TableName=TABLE_NAME)["Items"]
        assert items and key not in json.dumps(items)
        listing = io.StringIO()
        admin.main(["--table", TABLE_NAME, "keys", "list"], out=listing, dynamodb_client=aws)
        assert "alice" in listing.getvalue() and key not in listing.getvalue()
        logged = output.text()
        assert len(output.access_lines()) == 2 and key not in logged

    def test_key_lookups_are_cached(self, keyed, aws):
        key, _ = keyed
        call("GET", "/v1/usage", headers={"x-api-key": key})  # builds the services' own client
        client = services.get_services().limiter._table._client
        calls = []
        client.meta.events.register("before-call", lambda model, **_: calls.append(model.name))
        for _ in range(3):
            call("POST", "/api/generate", {"prompt": "p"}, headers={"x-api-key": key})
        assert Counter(calls) == {"UpdateItem": 6}

    def test_an_unknown_key_costs_one_read_while_it_is_remembered(self, keyed, aws):
        key, _ = keyed
        call("GET", "/v1/usage", headers={"x-api-key": key})  # builds the services' own client
        client = services.get_services().limiter._table._client
        calls = []
        client.meta.events.register("before-call", lambda model, **_: calls.append(model.name))
        junk = {"x-api-key": "mg-" + "j" * 40}
        for _ in range(5):
            assert call("POST", "/api/generate", {"prompt": "p"}, headers=junk).status == 401
        assert calls == ["GetItem"]  # remembered for CALLER_CACHE_TTL_S: junk repeats cost nothing


class TestAdmin:
    @pytest.mark.parametrize(
        "bad", [["--rpm", "0"], ["--rpm", "ten"], ["--daily-tokens", "-5"], ["--burst", "1.5"]]
    )
    def test_bad_numbers_are_refused(self, aws, bad, capsys):
        with pytest.raises(SystemExit) as exit_:
            admin.main(["--table", TABLE_NAME, "keys", "create", "--name", "x", *bad], dynamodb_client=aws)
        assert exit_.value.code == 2
        assert "error" in capsys.readouterr().err
        assert aws.scan(TableName=TABLE_NAME)["Items"] == []

    def test_unknown_key_id_is_an_error(self, aws, capsys):
        assert admin.main(["--table", TABLE_NAME, "keys", "disable", "nonsense"], dynamodb_client=aws) == 2
        assert (
            admin.main(["--table", TABLE_NAME, "keys", "disable", "key_0123456789ab"], dynamodb_client=aws)
            == 1
        )

    def test_no_table_is_a_clear_error(self, aws, gateway_env, capsys):
        gateway_env.delenv("TABLE_NAME", raising=False)
        gateway_env.delenv("STACK", raising=False)
        with pytest.raises(SystemExit):
            admin.main(["keys", "list"], dynamodb_client=aws)
        assert "TABLE_NAME" in capsys.readouterr().err

    def test_usage_table_per_caller(self, aws):
        gate = limiter(aws, Clock())
        gate.settle(gate.admit(caller(caller_id="key_aaaaaaaaaaaa"), 10), 120, 0.012)
        gate.settle(gate.admit(caller(caller_id="key_bbbbbbbbbbbb"), 10), 30, 0.003)
        out = io.StringIO()
        print_usage(Table(aws, TABLE_NAME), out, now=T0)
        lines = out.getvalue().splitlines()
        assert lines[0].startswith("usage for 2026-11-18")
        assert lines[3].split()[:5] == ["key_aaaaaaaaaaaa", "tester", "1", "120", "0.0120"]
        assert lines[-1].split() == ["total", "150", "0.0150", "150", "0.0150"]


def test_two_processes_share_one_limit_and_budget(tmp_path):
    """Two separate processes (two "containers") against one moto server on loopback."""
    aws = EmbeddedAws().start()
    try:
        create_gateway_table(aws.client("dynamodb"), TABLE_NAME)
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": aws.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "TABLE_NAME": TABLE_NAME,
            "PYTHONPATH": str(REPO),
        }
        worker = [sys.executable, "-m", "tests.support.limit_worker"]
        processes = [
            subprocess.Popen(worker, env=env, cwd=REPO, stdin=PIPE, stdout=PIPE, text=True) for _ in range(2)
        ]
        # Both admit together once both have started (a second or two each; far longer on a loaded machine)
        assert [process.stdout.readline() for process in processes] == ["ready\n", "ready\n"]
        for process in processes:
            process.stdin.write("go\n")
            process.stdin.flush()
        results = [json.loads(process.communicate(timeout=120)[0]) for process in processes]
        item = aws.client("dynamodb").get_item(
            TableName=TABLE_NAME, Key={"pk": {"S": "LIMITS"}, "sk": {"S": "key_shared00000"}}
        )["Item"]
    finally:
        aws.stop()
    admitted = sum(result["admitted"] for result in results)
    assert admitted == 10  # burst 10, no refill (fixed clock), 2 x 15 attempts
    assert sum(result["budget_refused"] for result in results) == 0
    assert all(result["admitted"] > 0 for result in results), results
    day = time.strftime("%Y%m%d", time.gmtime(1_795_000_000))
    assert item[f"tokens_{day}"] == {"N": "70"}  # every admitted request's real usage, from both processes
    assert item[f"requests_{day}"] == {"N": "10"}


def test_store_unavailable_is_never_a_500(gateway_env):
    gateway_env.setenv("TABLE_NAME", "t")
    gateway_env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    services.reset()
    reply = call("POST", "/api/generate", {"prompt": "p"})
    assert reply.status == 503 and isinstance(StoreUnavailable("x"), Exception)
    assert reply.error["code"] == "store_unavailable"


class TestHousekeeping:
    def test_counters_of_past_windows_are_dropped_by_the_settlement(self, aws):
        clock = Clock()
        gate = limiter(aws, clock)
        who = caller()
        old_day = time.strftime("%Y%m%d", time.gmtime(T0 - 5 * 86_400))
        yesterday = time.strftime("%Y%m%d", time.gmtime(T0 - 86_400))
        aws.put_item(
            TableName=TABLE_NAME,
            Item={
                "pk": {"S": "LIMITS"},
                "sk": {"S": who.caller_id},
                f"tokens_{old_day}": {"N": "7"},
                f"cost_{old_day}": {"N": "0"},
                "tokens_202607": {"N": "9"},
                f"tokens_{yesterday}": {"N": "3"},
                "tokens_202610": {"N": "4"},
            },
        )
        gate.settle(gate.admit(who, 10), 5, 0.0)
        item = aws.get_item(TableName=TABLE_NAME, Key={"pk": {"S": "LIMITS"}, "sk": {"S": who.caller_id}})[
            "Item"
        ]
        kept = {name for name in item if name.startswith(("tokens_", "cost_"))}
        today = time.strftime("%Y%m%d", time.gmtime(T0))
        assert kept == {
            f"tokens_{yesterday}",
            "tokens_202610",
            f"tokens_{today}",
            f"cost_{today}",
            "tokens_202611",
            "cost_202611",
        }


def test_limit_items_carry_the_ttl_the_table_deletes_them_by(aws):
    from lib.callers.limits import LIMITS_TTL_S
    from lib.platform.store import TTL_ATTRIBUTE
    from local.template import load_template

    table = load_template()["Resources"]["GatewayTable"]["Properties"]
    assert table["TimeToLiveSpecification"]["AttributeName"] == TTL_ATTRIBUTE
    clock = Clock()
    gate = limiter(aws, clock, GLOBAL_DAILY_TOKEN_BUDGET="100000")
    admission = gate.admit(caller(caller_id="ip_0123456789ab"), 10)
    clock.now += 3  # the settlement moves the expiry on with it
    gate.settle(admission, 5, 0.0)
    for sort_key in ("ip_0123456789ab", "#global"):
        item = aws.get_item(TableName=TABLE_NAME, Key={"pk": {"S": "LIMITS"}, "sk": {"S": sort_key}})["Item"]
        assert int(item[TTL_ATTRIBUTE]["N"]) == int(T0) + 3 + LIMITS_TTL_S, sort_key
    assert LIMITS_TTL_S > 31 * 86_400  # this month's counters outlive the caller's last request


def test_a_store_failure_while_checking_a_key_is_503_not_500(aws, gateway_env, upstream):
    gateway_env.setenv("AUTH_MODE", "keys")
    gateway_env.setenv("TABLE_NAME", "no-such-table")
    services.reset()
    reply = call("POST", "/api/generate", {"prompt": "p"}, headers={"x-api-key": "mg-0123456789abcdefghijkl"})
    assert reply.status == 503 and reply.error["code"] == "store_unavailable"
    assert upstream.received == []

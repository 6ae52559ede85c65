"""Store faults through a real store server broken mid-test: throttled, down, frozen.

The table is the embedded AWS (moto) behind `FaultyStore`, so boto3's own timeouts and retries run
exactly as in Lambda. The Lambda context counts down `remaining_s`: the function must answer before it.
"""

import threading
import time
import uuid

import pytest

from lib import services
from lib.core.token_estimate import MESSAGE_TOKENS, REQUEST_TOKENS
from lib.platform.store import REQUEST_CALL_LIMIT_S
from local.aws import EmbeddedAws
from tests.conftest import TABLE_NAME, call
from tests.support.fake_upstream import Behaviour
from tests.support.faulty_store import FaultyStore
from tests.support.gateway_table import create_gateway_table

PROMPT = {"prompt": "12345", "max_tokens": 10}
RESERVED = REQUEST_TOKENS + MESSAGE_TOKENS + 5 + 10  # the input's upper bound and max_tokens


@pytest.fixture(scope="module")
def embedded_aws():
    aws = EmbeddedAws().start()
    yield aws
    aws.stop()


@pytest.fixture
def store(embedded_aws, gateway_env):
    table_name = f"{TABLE_NAME}-{uuid.uuid4().hex[:8]}"  # a fresh table per test, one server per module
    create_gateway_table(embedded_aws.client("dynamodb"), table_name)
    faulty = FaultyStore(embedded_aws.endpoint_url).start()
    gateway_env.setenv("AWS_ENDPOINT_URL", faulty.url)
    gateway_env.setenv("TABLE_NAME", table_name)
    services.reset()
    faulty.aws, faulty.table_name = embedded_aws, table_name
    yield faulty
    faulty.stop()


def tokens_recorded(store) -> int:
    """Read the table directly (not through the broken server)."""
    items = store.aws.client("dynamodb").scan(TableName=store.table_name)["Items"]
    return sum(
        int(value["N"])
        for item in items
        for name, value in item.items()
        if name.startswith("tokens_2") and len(name) == len("tokens_20260101")
    )


def timed(*args, **kwargs):
    started = time.monotonic()
    reply = call(*args, **kwargs)
    return reply, time.monotonic() - started


def warm_container(store) -> None:
    """A container that has served: the table client's first call (its endpoint rules, its first
    connection; seconds on a loaded machine) is not what the store's 1.5 s call limit then times."""
    assert call("GET", "/v1/usage").status == 200 and store.requests > 0


def store_failures(output) -> int:
    return int(output.access_lines()[-1].get("store_failures", 0))


class TestAfterTheUpstream:
    @pytest.mark.parametrize("fault", ["frozen", "throttled", "down"])
    def test_a_store_that_breaks_after_admission_cannot_make_the_function_outlive_its_lambda(
        self, store, upstream, output, fault
    ):
        # Given a warm Lambda with 3 s left and a model that takes 0.8 s of them
        warm_container(store)
        upstream.then(Behaviour(delay_s=0.8))
        # When the store breaks between the admission and the settlement
        store.fail_after(1, fault)
        reply, elapsed = timed("POST", "/api/generate", PROMPT, remaining_s=3)
        # Then the answer is served, before the Lambda would have been killed
        assert reply.status == 200
        assert elapsed < 3, f"answered after {elapsed:.2f} s"
        assert store_failures(output) == 1
        # And the reservation stands in place of the unsettled usage (never less than was spent)
        assert tokens_recorded(store) == RESERVED

    def test_a_store_server_stopped_mid_request(self, store, upstream, output):
        warm_container(store)
        upstream.then(Behaviour(delay_s=1.0))
        threading.Timer(0.5, store.stop).start()
        reply, elapsed = timed("POST", "/api/generate", PROMPT, remaining_s=3)
        assert reply.status == 200 and elapsed < 3
        assert store_failures(output) == 1
        assert tokens_recorded(store) == RESERVED


class TestBeforeTheUpstream:
    @pytest.mark.parametrize("fault", ["frozen", "throttled", "down"])
    def test_fail_closed_answers_503_within_one_call_limit_and_spends_nothing(self, store, upstream, fault):
        services.get_services()  # a warm container: building its clients is no store call's time
        store.mode = fault
        reply, elapsed = timed("POST", "/api/generate", PROMPT, remaining_s=10)
        assert reply.status == 503 and reply.error["code"] == "store_unavailable"
        assert reply.headers.get("retry-after") == "1"
        assert elapsed < REQUEST_CALL_LIMIT_S + 2.0  # one call limit, and room for a loaded machine
        assert upstream.received == []

    @pytest.mark.parametrize("fault", ["frozen", "throttled", "down"])
    def test_fail_open_serves_within_two_call_limits(self, store, gateway_env, upstream, output, fault):
        gateway_env.setenv("RATE_LIMIT_FAIL_MODE", "open")
        services.reset()
        services.get_services()  # a warm container: building its clients is no store call's time
        store.mode = fault
        reply, elapsed = timed("POST", "/api/generate", PROMPT, remaining_s=10)
        assert reply.status == 200 and len(upstream.received) == 1
        # Two call limits, and room for the rest of the request on a loaded machine
        assert elapsed < 2 * REQUEST_CALL_LIMIT_S + 2.0, f"took {elapsed:.2f} s"
        assert store_failures(output) == 2

    def test_the_store_coming_back_serves_and_counts_again(self, store, upstream):
        store.mode = "throttled"
        assert call("POST", "/api/generate", PROMPT).status == 503
        store.mode = "ok"
        assert call("POST", "/api/generate", PROMPT).status == 200
        assert tokens_recorded(store) == 15  # the upstream's 15 tokens; the refused request none

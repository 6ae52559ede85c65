"""Stored responses (lib/stages/stored_responses.py) on the embedded AWS: one partition per conversation
read with one Query, turns walked back along `previous` (branches never mix), per caller, an item past
`expires_at` absent whatever the store still holds, every item under DynamoDB's 400 KB."""

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws

from lib.platform.config import Settings
from lib.platform.errors import InvalidRequest, StoreUnavailable
from lib.platform.store import Table
from lib.stages.stored_responses import MAX_TURN_BYTES, ResponseStore
from tests.support.gateway_table import create_gateway_table

NOW = 1_760_000_000.0
ALICE, BOB = "key_alice", "key_bob"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def embedded_dynamodb():
    """One embedded table for the module: every test makes conversations of its own (random ids)."""
    with mock_aws():
        client = boto3.client(
            "dynamodb", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
        )
        create_gateway_table(client, "responses-test")
        calls = []
        client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))
        yield client, calls


@pytest.fixture
def dynamodb(embedded_dynamodb):
    embedded_dynamodb[1].clear()
    return embedded_dynamodb


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(dynamodb, clock):
    return ResponseStore(Table(dynamodb[0], "responses-test"), Settings(), clock=clock)


def turn(store, caller, text, previous=None):
    """Keep one turn: its input `text`, its output `text` + "!"; returns its response id."""
    conversation = store.conversation(previous, caller)
    response_id = store.new_response_id(conversation)
    output = [
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text + "!"}]}
    ]
    items = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}]
    assert store.save({"id": response_id, "output": output}, items, caller, conversation)
    return response_id


def texts(items):
    return [item["content"][0]["text"] for item in items]


def test_a_conversation_is_read_with_one_query_in_order(store, dynamodb):
    one = turn(store, ALICE, "one")
    two = turn(store, ALICE, "two", one)
    dynamodb[1].clear()

    conversation = store.conversation(two, ALICE)

    assert texts(conversation.items) == ["one", "one!", "two", "two!"]
    assert dynamodb[1] == ["Query"]
    assert conversation.conversation == one[5:25] == two[5:25] and conversation.previous_turn == two[25:]


def test_branches_share_the_partition_and_never_mix(store):
    root = turn(store, ALICE, "root")
    turn(store, ALICE, "left", root)
    right = turn(store, ALICE, "right", root)

    assert texts(store.conversation(right, ALICE).items) == ["root", "root!", "right", "right!"]


def test_another_callers_turn_is_absent(store):
    mine = turn(store, ALICE, "mine")

    with pytest.raises(InvalidRequest) as error:
        store.conversation(mine, BOB)

    assert error.value.code == "previous_response_not_found" and error.value.param == "previous_response_id"
    assert store.get(mine, BOB) is None and store.delete(mine, BOB) is False
    assert store.get(mine, ALICE) is not None  # Bob's delete touched nothing


def test_an_expired_turn_is_absent_while_the_store_still_holds_it(store, clock):
    one = turn(store, ALICE, "one")
    clock.now += 10 * 86_400
    two = turn(store, ALICE, "two", one)
    clock.now += 25 * 86_400  # one is past RESPONSES_TTL_DAYS (30), two is not

    assert store.get(one, ALICE) is None and store.get(two, ALICE) is not None
    with pytest.raises(InvalidRequest) as error:
        store.conversation(two, ALICE)
    assert "earlier in its conversation" in error.value.message
    assert store.delete(one, ALICE) is False


def test_a_deleted_turn_is_gone(store):
    one = turn(store, ALICE, "one")

    assert store.delete(one, ALICE) is True
    assert store.get(one, ALICE) is None and store.delete(one, ALICE) is False


def test_an_id_that_is_not_ours_costs_no_store_call(store, dynamodb):
    dynamodb[1].clear()

    assert store.get("resp_677efb5139a88190b512bc3fef8e535d", ALICE) is None
    with pytest.raises(InvalidRequest):
        store.conversation("resp_677efb5139a88190b512bc3fef8e535d", ALICE)
    assert dynamodb[1] == []


def test_a_turn_that_cannot_fit_one_item_is_refused_before_the_call_and_never_half_written(store):
    with pytest.raises(InvalidRequest) as error:
        store.check_fits({"instructions": "x"}, [], max_output_tokens=MAX_TURN_BYTES // 4)
    store.check_fits({"instructions": "x"}, [], max_output_tokens=1000)
    conversation = store.conversation(None, ALICE)
    huge = {"id": store.new_response_id(conversation), "output": [{"text": "y" * MAX_TURN_BYTES}]}

    assert error.value.code == "request_too_large_to_store" and "store: false" in error.value.message
    assert store.save(huge, [], ALICE, conversation) is False
    assert store.get(huge["id"], ALICE) is None


def test_with_stored_responses_off_previous_response_id_is_a_400_saying_so(dynamodb):
    store = ResponseStore(Table(dynamodb[0], "responses-test"), Settings(responses_store=False))

    with pytest.raises(InvalidRequest) as error:
        store.conversation("resp_" + "0" * 40, ALICE)

    assert not store.enabled and "RESPONSES_STORE=off" in error.value.message
    assert store.get("resp_" + "0" * 40, ALICE) is None


def test_a_store_that_cannot_be_reached_is_a_503_never_a_500():
    unreachable = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="t",
        aws_secret_access_key="t",
        config=Config(retries={"max_attempts": 1}),
    )
    unreachable.meta.events.register(
        "before-send.dynamodb.*", lambda **_: (_ for _ in ()).throw(EndpointConnectionError(endpoint_url="x"))
    )
    store = ResponseStore(Table(unreachable, "responses-test"), Settings())
    some_id = "resp_" + "1" * 40

    for read in (
        lambda: store.get(some_id, ALICE),
        lambda: store.conversation(some_id, ALICE),
        lambda: store.delete(some_id, ALICE),
    ):
        with pytest.raises(StoreUnavailable):
            read()
    assert store.save({"id": some_id, "output": []}, [], ALICE, store.conversation(None, ALICE)) is False

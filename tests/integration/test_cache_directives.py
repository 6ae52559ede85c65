"""Issue 21, hardening items 8 and 2: the caller's cache headers (`Cache-Control: no-store`, `Pragma:
no-cache`) are honoured, and a frozen store costs a request no more waits than the admission and the
settlement, cache or no cache."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from lib import services
from lib.platform.config import load_settings
from tests.conftest import call
from tests.integration.test_cache import CHAT, answer, chat

NO_STORE = {"content-type": "application/json", "Cache-Control": "no-store"}


def content(reply) -> str:
    return reply.json["choices"][0]["message"]["content"]


@pytest.fixture
def patient_store(aws, gateway_env):
    """The in-process moto, given all the time it needs: a loaded machine can take a call past the 1.5 s
    a store call gets, and a store failure skips the cache, which is not what these tests are about."""
    gateway_env.setattr(services, "REQUEST_CALL_LIMIT_S", 30.0)
    services.reset()
    return aws


@pytest.mark.usefixtures("patient_store")
class TestCallerDirectives:
    def test_no_store_neither_reads_nor_writes_the_entry(self, aws, upstream):
        # Given an entry the first request kept
        upstream.then(answer("kept"), answer("not kept"), answer("unused"))
        assert call("POST", CHAT, chat()).headers["x-cache"] == "miss"
        # When the same request says no-store
        refused = call("POST", CHAT, chat(), headers=NO_STORE)
        # Then the model answers it (no read) and the entry is not replaced by its answer (no write)
        assert refused.headers["x-cache"] == "miss" and content(refused) == "not kept"
        after = call("POST", CHAT, chat())
        assert after.headers["x-cache"] == "hit" and content(after) == "kept"
        assert len(upstream.received) == 2

    def test_a_no_store_answer_is_not_kept_for_the_next_request(self, aws, upstream):
        # Given no entry yet, a whole answer and a streamed one, both with no-store
        call("POST", CHAT, chat(), headers=NO_STORE)
        call("POST", CHAT, chat(stream=True), headers=NO_STORE)
        # When the same request comes without it
        reply = call("POST", CHAT, chat())
        # Then nothing was kept: it is a miss, and the model is called a third time
        assert reply.headers["x-cache"] == "miss" and len(upstream.received) == 3

    def test_pragma_no_cache_refreshes_the_entry_like_cache_control_no_cache(self, aws, upstream):
        upstream.then(answer("old"), answer("new"))
        call("POST", CHAT, chat())
        pragma = {"content-type": "application/json", "Pragma": "no-cache"}
        refreshed = call("POST", CHAT, chat(), headers=pragma)
        assert refreshed.headers["x-cache"] == "miss" and content(refreshed) == "new"
        after = call("POST", CHAT, chat())
        assert after.headers["x-cache"] == "hit" and content(after) == "new"
        assert len(upstream.received) == 2

    def test_the_access_line_says_the_cache_was_bypassed(self, aws, upstream, output):
        call("POST", CHAT, chat(), headers=NO_STORE)
        assert output.access_lines()[-1]["cache"] == "bypass"


class FrozenDynamoDb:
    """A DynamoDB client whose every call hangs (until the test ends), as a frozen store does."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.released = threading.Event()

    def __getattr__(self, operation: str):
        def hang(**_request):
            self.calls.append(operation)
            self.released.wait(30)
            raise ConnectionError("released")

        return hang


@pytest.fixture
def frozen_store(gateway_env, upstream) -> Iterator[FrozenDynamoDb]:
    """A gateway failing open on a store that never answers, each call cut at 0.3 s, the cache on."""
    for name, value in (("TABLE_NAME", "frozen"), ("RATE_LIMIT_FAIL_MODE", "open"), ("CACHE_MODE", "all")):
        gateway_env.setenv(name, value)
    gateway_env.setattr(services, "REQUEST_CALL_LIMIT_S", 0.3)
    frozen = FrozenDynamoDb()
    services._services = services.build_services(load_settings(), dynamodb_client=frozen)
    yield frozen
    frozen.released.set()


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_frozen_store_costs_the_admission_and_the_settlement_only(frozen_store, upstream, output, stream):
    # Given a store that hangs on every call, the cache on, limits failing open
    # When a cacheable request is answered
    reply = call("POST", CHAT, chat(stream=stream))
    # Then it is served, and only the admission and the settlement waited on the store: once the
    # admission timed out, the cache read and write were skipped (before: four waits)
    assert reply.status == 200 and len(upstream.received) == 1
    assert output.access_lines()[-1]["store_failures"] == 2
    assert frozen_store.calls == ["update_item", "update_item"]

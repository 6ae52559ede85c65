"""Caller identification: header parsing, the key cache, and store failures."""

import pytest

from lib.callers import identity as callers
from lib.callers.identity import CallerResolver, client_key_from, hash_key
from lib.platform.config import load_settings
from lib.platform.errors import RateLimited, StoreUnavailable, Unauthorized
from lib.platform.store import StoreError

KEY = "mg-0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"


class Directory:
    def __init__(self):
        self.items = {hash_key(KEY): {"name": "alice", "enabled": True, "rpm": 5}}
        self.lookups = 0
        self.down = False

    def find_key(self, key_hash):
        self.lookups += 1
        if self.down:
            raise StoreError("DynamoDB get_item failed: ProvisionedThroughputExceededException")
        return self.items.get(key_hash)


class Clock:
    now = 1000.0

    def __call__(self):
        return self.now


def resolver(directory, clock=None, **env):
    settings = load_settings({"AUTH_MODE": "keys", "TABLE_NAME": "t", **env})
    return CallerResolver(settings, directory, clock or Clock())


def test_bearer_wins_over_x_api_key_and_header_case_does_not_matter():
    assert client_key_from({"AUTHORIZATION": f"bearer {KEY}", "X-API-KEY": "other-key-0000000000"}) == KEY
    assert client_key_from({"X-Api-Key": KEY}) == KEY
    assert client_key_from({}) is None


def test_lookups_are_cached_for_the_configured_time():
    directory, clock = Directory(), Clock()
    who = resolver(directory, clock, CALLER_CACHE_TTL_S="10")
    assert who.identify({"x-api-key": KEY}, None).rpm == 5
    who.identify({"x-api-key": KEY}, None)
    assert directory.lookups == 1
    clock.now += 10.1
    who.identify({"x-api-key": KEY}, None)
    assert directory.lookups == 2


def test_a_store_failure_is_a_503_for_an_unknown_caller():
    directory = Directory()
    directory.down = True
    with pytest.raises(StoreUnavailable):
        resolver(directory).identify({"x-api-key": KEY}, None)


def test_a_store_failure_keeps_serving_a_caller_known_before():
    directory, clock = Directory(), Clock()
    who = resolver(directory, clock, CALLER_CACHE_TTL_S="10")
    who.identify({"x-api-key": KEY}, None)
    clock.now += 60
    directory.down = True
    assert who.identify({"x-api-key": KEY}, None).name == "alice"


def test_unknown_keys_are_cached_but_the_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(callers, "CACHE_LIMIT", 3)
    directory = Directory()
    who = resolver(directory)
    for index in range(6):
        with pytest.raises(Unauthorized):
            who.identify({"x-api-key": f"mg-unknown-{index:020d}"}, None)
    assert len(who._unknown) == 3


def test_a_flood_of_unknown_keys_does_not_evict_a_known_key(monkeypatch):
    monkeypatch.setattr(callers, "CACHE_LIMIT", 3)
    directory, clock = Directory(), Clock()
    who = resolver(directory, clock)
    who.identify({"x-api-key": KEY}, "198.51.100.1")
    for index in range(50):
        with pytest.raises(Unauthorized):
            who.identify({"x-api-key": f"mg-unknown-{index:020d}"}, f"203.0.113.{index}")
    lookups = directory.lookups
    assert who.identify({"x-api-key": KEY}, "198.51.100.1").name == "alice"
    assert directory.lookups == lookups  # still cached
    assert len(who._known) == 1 and len(who._unknown) == 3


def test_failed_authentications_are_limited_per_address_in_memory():
    directory, clock = Directory(), Clock()
    who = resolver(directory, clock, AUTH_FAILURES_PER_MINUTE="5")
    attacker, bystander = "203.0.113.9", "198.51.100.1"
    for index in range(5):
        with pytest.raises(Unauthorized):
            who.identify({"x-api-key": f"mg-guess-{index:020d}"}, attacker)
    lookups = directory.lookups
    # Past the limit: 429 before any read, for guesses and for a valid key alike
    for headers in ({"x-api-key": "mg-guess-99999999999999999999"}, {"x-api-key": KEY}, {}):
        with pytest.raises(RateLimited) as error:
            who.identify(headers, attacker)
        assert error.value.code == "too_many_auth_failures" and 1 <= error.value.retry_after_s <= 60
    assert directory.lookups == lookups
    # Another address is not affected; the attacker's window ends after a minute
    assert who.identify({"x-api-key": KEY}, bystander).name == "alice"
    clock.now += 60
    assert who.identify({"x-api-key": KEY}, attacker).name == "alice"


def test_malformed_and_missing_keys_count_as_failures():
    who = resolver(Directory(), Clock(), AUTH_FAILURES_PER_MINUTE="2")
    for headers in ({"authorization": "Basic abc"}, {}):
        with pytest.raises(Unauthorized):
            who.identify(headers, "203.0.113.9")
    with pytest.raises(RateLimited):
        who.identify({"x-api-key": KEY}, "203.0.113.9")


def test_the_address_table_is_bounded(monkeypatch):
    monkeypatch.setattr(callers, "ADDRESS_LIMIT", 10)
    who = resolver(Directory(), Clock())
    for index in range(100):
        with pytest.raises(Unauthorized):
            who.identify({}, f"203.0.113.{index}")
    assert len(who._failures._windows) == 10

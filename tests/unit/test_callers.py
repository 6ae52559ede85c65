"""Caller identification: header parsing, the key cache, and store failures."""

import pytest

from lib import callers
from lib.callers import CallerResolver, client_key_from, hash_key
from lib.config import load_settings
from lib.errors import StoreUnavailable, Unauthorized
from lib.store import StoreError

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
    assert len(who._cache) == 3

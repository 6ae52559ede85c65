"""A key's new state reaches a warm container within CALLER_CACHE_TTL_S, whichever way it changed."""

import pytest

from lib.callers.identity import CallerResolver, hash_key
from lib.platform.config import load_settings
from lib.platform.errors import Unauthorized

KEY = "mg-0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
HEADERS = {"authorization": f"Bearer {KEY}"}


class Table:
    def __init__(self):
        self.item = {"name": "alice", "enabled": True}

    def find_key(self, key_hash):
        return dict(self.item) if key_hash == hash_key(KEY) else None


class Clock:
    now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def world():
    table, clock = Table(), Clock()
    settings = load_settings({"AUTH_MODE": "keys", "TABLE_NAME": "t", "CALLER_CACHE_TTL_S": "60"})
    return table, clock, CallerResolver(settings, table, clock)


def test_disabling_takes_effect_within_the_cache_time(world):
    table, clock, callers = world
    callers.identify(HEADERS, None)
    table.item["enabled"] = False
    clock.now += 59
    assert callers.identify(HEADERS, None).name == "alice"  # still the cached, enabled key
    clock.now += 2
    with pytest.raises(Unauthorized) as refused:
        callers.identify(HEADERS, None)
    assert refused.value.code == "key_disabled"


def test_re_enabling_takes_effect_within_the_cache_time_too(world):
    table, clock, callers = world
    table.item["enabled"] = False
    with pytest.raises(Unauthorized):
        callers.identify(HEADERS, None)
    table.item["enabled"] = True
    clock.now += 59
    with pytest.raises(Unauthorized) as refused:  # the disabled state is cached as well
        callers.identify(HEADERS, None)
    assert refused.value.code == "key_disabled"
    clock.now += 2
    assert callers.identify(HEADERS, None).name == "alice"

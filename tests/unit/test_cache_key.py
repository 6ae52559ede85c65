"""The cache key and policy: what makes two requests share an answer, and which requests may."""

from types import SimpleNamespace

import pytest

from lib.apis.openai_requests import parse_chat
from lib.platform.config import load_settings
from lib.platform.route_table import Route
from lib.providers import PROVIDERS
from lib.stages.cache import CacheDirectives, cache_directives, cache_key, is_cacheable

SETTINGS = load_settings({"AUTH_MODE": "none"})
ROUTE = Route(name="general", provider="openai", model="deepseek-chat", endpoint="https://a.example/v1")
BODY = {"messages": [{"role": "user", "content": "hi"}], "seed": 1, "max_tokens": 10}


def key(body=None, route=ROUTE, settings=SETTINGS, caller="key_a"):
    return cache_key(parse_chat(body or BODY, settings), route, settings, caller)


@pytest.mark.parametrize(
    "changed",
    [
        {"seed": 2},
        {"messages": [{"role": "user", "content": "hi!"}]},
        {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]},
        {"max_tokens": 11},
        {"temperature": 0.2},
        {"top_p": 0.9},
        {"tools": [{"type": "function", "function": {"name": "f"}}]},
    ],
    ids=lambda changed: next(iter(changed)),
)
def test_anything_that_changes_the_answer_changes_the_key(changed):
    assert key({**BODY, **changed}) != key()


def test_the_route_its_upstream_model_and_the_system_prompt_are_in_the_key():
    assert (
        key(route=Route(name="legal", provider="openai", model="deepseek-chat", endpoint=ROUTE.endpoint))
        != key()
    )
    assert (
        key(route=Route(name="general", provider="openai", model="deepseek-v3", endpoint=ROUTE.endpoint))
        != key()
    )
    passes_model_on = Route(name="default", provider="openai", model=None, endpoint=ROUTE.endpoint)
    assert key({**BODY, "model": "a"}, route=passes_model_on) != key(
        {**BODY, "model": "b"}, route=passes_model_on
    )
    with_system = load_settings({"AUTH_MODE": "none", "SYSTEM_PROMPT": "be brief"})
    assert key(settings=with_system) != key()


def test_how_the_answer_is_sent_does_not_change_the_key():
    assert key({**BODY, "stream": True, "stream_options": {"include_usage": True}}) == key()


def test_entries_are_per_caller_unless_shared():
    assert key(caller="key_b") != key()
    shared = load_settings({"AUTH_MODE": "none", "CACHE_SCOPE": "shared"})
    assert key(settings=shared, caller="key_b") == key(settings=shared)


def test_seeded_caches_only_seeded_requests_to_providers_that_honour_the_seed(monkeypatch):
    seeded, unseeded = parse_chat(BODY, SETTINGS), parse_chat({**BODY, "seed": None}, SETTINGS)
    assert is_cacheable(seeded, ROUTE, "seeded")
    assert not is_cacheable(unseeded, ROUTE, "seeded")
    monkeypatch.setitem(PROVIDERS, "ignores-seed", SimpleNamespace(HONOURS_SEED=False))
    assert not is_cacheable(seeded, Route(name="r", provider="ignores-seed", model="m"), "seeded")
    assert is_cacheable(unseeded, ROUTE, "all")
    assert not is_cacheable(seeded, ROUTE, "off")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"cache-control": "no-cache"}, CacheDirectives(read=False, write=True)),
        ({"Cache-Control": "max-age=0, No-Cache"}, CacheDirectives(read=False, write=True)),
        ({"cache-control": 'no-cache="set-cookie"'}, CacheDirectives(read=False, write=True)),
        ({"cache-control": "no-store"}, CacheDirectives(read=False, write=False)),
        ({"Cache-Control": "no-cache, NO-STORE"}, CacheDirectives(read=False, write=False)),
        ({"pragma": "no-cache"}, CacheDirectives(read=False, write=True)),
        ({"Pragma": "No-Cache", "cache-control": "max-age=0"}, CacheDirectives(read=False, write=True)),
        ({"cache-control": "max-age=0", "pragma": "x-other"}, CacheDirectives()),
        ({"x-cache-control": "no-store"}, CacheDirectives()),
        ({}, CacheDirectives()),
    ],
)
def test_the_caller_s_cache_directives_are_read_from_cache_control_and_pragma(headers, expected):
    assert cache_directives(headers) == expected

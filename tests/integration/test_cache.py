"""The response cache through the handler: moto's table, the fake upstream on loopback."""

from __future__ import annotations

import json

from lib import services
from lib.platform.store import Table
from lib.stages.cache import ResponseCache
from local.events import http_api_event
from tests.conftest import TABLE_NAME, call, invoke_event
from tests.support.fake_upstream import Behaviour, FakeUpstream, completion

CHAT = "/v1/chat/completions"


def chat(seed=7, content="What is the capital of France?", **fields):
    body = {"messages": [{"role": "user", "content": content}], "max_tokens": 40, **fields}
    if seed is not None:
        body["seed"] = seed
    return body


def answer(text):
    return Behaviour(body=completion(text, prompt_tokens=20, completion_tokens=5))


class Clock:
    def __init__(self, now=1_795_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


def use_cache(aws, clock):
    """The container's cache over the same table, on a clock the test moves."""
    built = services.get_services()
    services._services = built._replace(
        cache=ResponseCache(Table(aws, TABLE_NAME), built.settings, clock=clock)
    )


class TestHitAndMiss:
    def test_a_repeated_seeded_request_is_answered_from_the_cache(self, aws, upstream):
        upstream.then(answer("Paris."))
        first = call("POST", CHAT, chat())
        second = call("POST", CHAT, chat())
        assert first.status == second.status == 200
        assert first.headers["x-cache"] == "miss" and second.headers["x-cache"] == "hit"
        assert len(upstream.received) == 1
        assert second.json["choices"][0]["message"]["content"] == "Paris."
        # The reply keeps the original answer's usage: clients expect the field.
        assert second.json["usage"] == {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}

    def test_generate_hits_too(self, aws, upstream):
        upstream.then(answer("Paris."))
        call("POST", "/api/generate", {"prompt": "capital of France?", "seed": 1})
        reply = call("POST", "/api/generate", {"prompt": "capital of France?", "seed": 1})
        assert reply.headers["x-cache"] == "hit" and reply.json["text"] == "Paris."
        assert len(upstream.received) == 1

    def test_a_different_seed_prompt_model_or_parameter_is_a_miss(self, aws, upstream):
        # One table for every variant (each moto set-up costs a second): each differs from the first.
        call("POST", CHAT, chat())
        variants = [
            {"seed": 8},
            {"content": "What is the capital of Spain?"},
            {"model": "other-model"},
            {"max_tokens": 41},
            {"temperature": 0.5},
            {"top_p": 0.5},
            {"stop": ["\n"]},
        ]
        for count, changed in enumerate(variants, start=2):
            reply = call("POST", CHAT, chat(**changed))
            assert reply.headers["x-cache"] == "miss", changed
            assert len(upstream.received) == count, changed

    def test_a_different_system_prompt_is_a_miss(self, aws, upstream, gateway_env):
        gateway_env.setenv("SYSTEM_PROMPT", "Answer in French.")
        services.reset()
        call("POST", CHAT, chat())
        gateway_env.setenv("SYSTEM_PROMPT", "Answer in German.")
        services.reset()
        assert call("POST", CHAT, chat()).headers["x-cache"] == "miss"
        assert len(upstream.received) == 2

    def test_a_stream_request_is_replayed_as_a_stream(self, aws, upstream):
        upstream.then(answer("Paris."))
        call("POST", CHAT, chat())
        reply = call("POST", CHAT, chat(stream=True))
        assert reply.headers["x-cache"] == "hit"
        assert reply.headers["content-type"].startswith("text/event-stream")
        chunks = [json.loads(line[6:]) for line in reply.text.split("\n\n") if line.startswith("data: {")]
        assert chunks[0]["choices"][0]["delta"]["content"] == "Paris."
        assert reply.text.endswith("data: [DONE]\n\n")
        assert len(upstream.received) == 1

    def test_a_streamed_answer_is_kept_and_serves_the_next_request(self, aws, upstream):
        upstream.then(Behaviour(words=("Par", "is."), stream_usage=True))
        first = call("POST", CHAT, chat(stream=True, stream_options={"include_usage": True}))
        assert first.headers["x-cache"] == "miss" and first.text.endswith("data: [DONE]\n\n")
        whole = call("POST", CHAT, chat())
        assert whole.headers["x-cache"] == "hit" and len(upstream.received) == 1
        assert whole.json["choices"][0]["message"]["content"] == "Paris."
        assert whole.json["usage"]["total_tokens"] == 15  # the stream's own usage chunk

    def test_a_broken_stream_is_not_kept(self, aws, upstream):
        upstream.then(Behaviour(words=("Par", "is."), stream_cut_after=1))
        call("POST", CHAT, chat(stream=True))
        assert call("POST", CHAT, chat()).headers["x-cache"] == "miss"
        assert len(upstream.received) == 2


class TestPolicy:
    def test_without_a_seed_nothing_is_cached_by_default(self, aws, upstream):
        call("POST", CHAT, chat(seed=None))
        reply = call("POST", CHAT, chat(seed=None))
        assert reply.headers["x-cache"] == "miss" and len(upstream.received) == 2

    def test_cache_mode_all_caches_unseeded_requests(self, aws, upstream, gateway_env):
        gateway_env.setenv("CACHE_MODE", "all")
        services.reset()
        call("POST", CHAT, chat(seed=None))
        assert call("POST", CHAT, chat(seed=None)).headers["x-cache"] == "hit"
        assert len(upstream.received) == 1

    def test_cache_mode_off_caches_nothing(self, aws, upstream, gateway_env):
        gateway_env.setenv("CACHE_MODE", "off")
        services.reset()
        call("POST", CHAT, chat())
        assert call("POST", CHAT, chat()).headers["x-cache"] == "miss"
        assert len(upstream.received) == 2

    def test_an_unknown_cache_mode_is_503_naming_the_variable(self, gateway_env, upstream):
        gateway_env.setenv("CACHE_MODE", "sometimes")
        services.reset()
        reply = call("POST", CHAT, chat())
        assert reply.status == 503 and reply.error["code"] == "not_configured"
        assert "CACHE_MODE" in reply.error["message"]
        assert upstream.received == []

    def test_without_a_table_there_is_no_cache(self, gateway_env, upstream):
        call("POST", CHAT, chat())
        assert call("POST", CHAT, chat()).headers["x-cache"] == "miss"
        assert len(upstream.received) == 2

    def test_entries_are_per_caller_unless_shared(self, aws, upstream, gateway_env):
        def from_ip(source_ip):
            event = http_api_event(
                "POST",
                CHAT,
                body=json.dumps(chat()).encode(),
                headers=[("content-type", "application/json")],
                source_ip=source_ip,
            )
            return invoke_event(event)

        from_ip("10.0.0.1")
        assert from_ip("10.0.0.2").headers["x-cache"] == "miss"  # another caller learns nothing
        assert from_ip("10.0.0.1").headers["x-cache"] == "hit"
        gateway_env.setenv("CACHE_SCOPE", "shared")
        services.reset()
        from_ip("10.0.0.1")
        assert from_ip("10.0.0.3").headers["x-cache"] == "hit"

    def test_an_answer_from_the_fallback_endpoint_is_not_cached(self, aws, upstream, gateway_env):
        backup = FakeUpstream().start()
        try:
            gateway_env.setenv("AI_MODEL_FALLBACK_ENDPOINT", backup.base_url)
            gateway_env.setenv("AI_MODEL_MAX_RETRIES", "0")
            services.reset()
            upstream.then(Behaviour(status=500, body={"error": {"type": "server_error"}}))
            assert call("POST", CHAT, chat()).status == 200
            assert call("POST", CHAT, chat()).headers["x-cache"] == "miss"
            assert len(backup.received) == 1 and len(upstream.received) == 2
        finally:
            backup.stop()

    def test_an_answer_too_large_for_one_item_is_not_cached(self, aws, upstream):
        upstream.then(answer("x" * 400_000))
        assert call("POST", CHAT, chat()).status == 200
        assert call("POST", CHAT, chat()).headers["x-cache"] == "miss"
        assert len(upstream.received) == 2


class TestNoCacheAndExpiry:
    def test_no_cache_bypasses_the_entry_and_refreshes_it(self, aws, upstream):
        upstream.then(answer("old"), answer("new"))
        call("POST", CHAT, chat())
        headers = {"content-type": "application/json", "Cache-Control": "no-cache"}
        bypassed = call("POST", CHAT, chat(), headers=headers)
        assert bypassed.headers["x-cache"] == "miss"
        assert bypassed.json["choices"][0]["message"]["content"] == "new"
        after = call("POST", CHAT, chat())
        assert after.headers["x-cache"] == "hit"
        assert after.json["choices"][0]["message"]["content"] == "new"
        assert len(upstream.received) == 2

    def test_an_entry_past_expires_at_is_a_miss_though_the_store_still_holds_it(
        self, aws, upstream, gateway_env
    ):
        gateway_env.setenv("CACHE_TTL_S", "60")
        services.reset()
        clock = Clock()
        use_cache(aws, clock)
        call("POST", CHAT, chat())
        clock.now += 59
        assert call("POST", CHAT, chat()).headers["x-cache"] == "hit"
        clock.now += 1
        assert call("POST", CHAT, chat()).headers["x-cache"] == "miss"
        assert len(upstream.received) == 2
        entries = aws.query(
            TableName=TABLE_NAME,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "CACHE"}},
        )
        assert entries["Count"] == 1  # the miss rewrote the one entry with a later expiry


class TestSpending:
    def test_a_hit_spends_no_budget_but_counts_as_a_request(self, aws, upstream):
        call("POST", CHAT, chat())
        before = call("GET", "/v1/usage").json
        assert call("POST", CHAT, chat()).headers["x-cache"] == "hit"
        after = call("GET", "/v1/usage").json
        assert after["tokens_today"] == before["tokens_today"] == 15  # the miss's tokens only
        assert after["requests_today"] == before["requests_today"] + 1
        assert len(upstream.received) == 1

    def test_a_hit_is_still_rate_limited(self, aws, upstream, gateway_env):
        gateway_env.setenv("RATE_LIMIT_RPM", "1")
        gateway_env.setenv("RATE_LIMIT_BURST", "2")
        services.reset()
        call("POST", CHAT, chat())
        assert call("POST", CHAT, chat()).headers["x-cache"] == "hit"
        refused = call("POST", CHAT, chat())
        assert refused.status == 429 and refused.error["code"] == "rate_limit_exceeded"
        assert len(upstream.received) == 1

    def test_the_access_line_records_the_hit_and_no_tokens(self, aws, upstream, output, gateway_env):
        gateway_env.setenv("DETAILED_METRICS", "true")
        services.reset()
        call("POST", CHAT, chat())
        call("POST", CHAT, chat())
        miss, hit = output.access_lines()
        assert miss["cache"] == "miss" and miss["total_tokens"] > 0
        assert hit["cache"] == "hit" and hit["total_tokens"] == 0 and hit["upstream_attempts"] == 0
        hits = [blob["CacheHits"] for blob in output.metric_blobs() if "CacheHits" in blob]
        assert hits == [[0], [1]]


class TestStoreFailure:
    def test_a_failing_cache_store_serves_the_request_uncached(self, aws, upstream, output):
        built = services.get_services()
        services._services = built._replace(cache=ResponseCache(Table(aws, "no-such-table"), built.settings))
        first = call("POST", CHAT, chat())
        second = call("POST", CHAT, chat())
        assert first.status == second.status == 200
        assert second.headers["x-cache"] == "miss" and len(upstream.received) == 2
        # The read failed, so the write was not tried: a broken store costs one wait, not two
        assert [line["store_failures"] for line in output.access_lines()] == [1, 1]

"""`POST /v1/responses` through the handler: the stages chat runs (limits, budgets, free allowances, cache,
blocklist, deadline, telemetry), stored responses per caller, and a route that passes requests through."""

import io
import json

import pytest

from lib import services
from lib.admin import cli as admin
from lib.platform.store import Table
from local.events import http_api_event
from tests.conftest import TABLE_NAME, call, invoke_event
from tests.support import fake_responses as responses
from tests.support.fake_responses import FakeResponsesAPI
from tests.support.fake_upstream import Behaviour

HI = {"model": "m", "input": "Hi"}


def create(body, key=None):
    headers = {"content-type": "application/json"}
    if key:
        headers["authorization"] = f"Bearer {key}"
    return call("POST", "/v1/responses", body, headers=headers)


def listed(response_id, query=""):
    return invoke_event(http_api_event("GET", f"/v1/responses/{response_id}/input_items", query=query))


def events(reply):
    return [json.loads(block.split("\ndata: ")[1]) for block in reply.text.split("\n\n") if block]


@pytest.fixture
def keys(aws, gateway_env):
    gateway_env.setenv("AUTH_MODE", "keys")
    services.reset()
    made = []
    for name in ("alice", "bob"):
        out = io.StringIO()
        admin.main(["--table", TABLE_NAME, "keys", "create", "--name", name], out=out, dynamodb_client=aws)
        made.append(out.getvalue().split("key:")[1].split()[0])
    return made


def test_another_callers_response_is_a_404_and_cannot_be_continued(keys, upstream):
    alice, bob = keys
    made = create(HI, alice).json["id"]
    bearer = {"authorization": f"Bearer {bob}"}

    assert call("GET", f"/v1/responses/{made}", headers=bearer).status == 404
    assert call("GET", f"/v1/responses/{made}/input_items", headers=bearer).status == 404
    assert call("DELETE", f"/v1/responses/{made}", headers=bearer).status == 404
    continued = create({**HI, "previous_response_id": made}, bob)
    assert continued.status == 400 and continued.error["code"] == "previous_response_not_found"
    assert call("GET", f"/v1/responses/{made}", headers={"authorization": f"Bearer {alice}"}).status == 200
    assert len(upstream.received) == 1


def test_with_stored_responses_off_nothing_is_kept_and_previous_response_id_is_a_400(aws, gateway_env):
    gateway_env.setenv("RESPONSES_STORE", "off")
    services.reset()

    made = create(HI).json
    continued = create({**HI, "previous_response_id": made["id"]})

    assert made["store"] is False and call("GET", f"/v1/responses/{made['id']}").status == 404
    assert continued.status == 400 and "RESPONSES_STORE=off" in continued.error["message"]


def test_a_turn_too_large_to_store_is_a_400_before_the_call_unless_store_is_false(aws, gateway_env, upstream):
    gateway_env.setenv("MAX_TOKENS_LIMIT", "200000")
    gateway_env.setenv("DAILY_TOKEN_BUDGET", "1000000")
    services.reset()

    refused = create({**HI, "max_output_tokens": 100_000})
    unstored = create({**HI, "max_output_tokens": 100_000, "store": False})

    assert refused.status == 400 and refused.error["code"] == "request_too_large_to_store"
    assert unstored.status == 200 and len(upstream.received) == 1


def test_input_items_are_listed_newest_first_in_pages(aws):
    items = [{"role": "user", "content": f"part {number}"} for number in range(3)]
    made = create({"model": "m", "input": items}).json["id"]

    first = listed(made, "limit=2").json
    rest = listed(made, f"limit=2&after={first['last_id']}").json
    ascending = listed(made, "order=asc").json

    assert [item["content"][0]["text"] for item in first["data"]] == ["part 2", "part 1"] and first[
        "has_more"
    ]
    assert [item["content"][0]["text"] for item in rest["data"]] == ["part 0"] and not rest["has_more"]
    assert [item["content"][0]["text"] for item in ascending["data"]] == ["part 0", "part 1", "part 2"]
    assert listed(made, "limit=0").status == 400 and listed(made, "order=up").status == 400


def test_budget_reservation_and_charge_are_chats(aws, gateway_env, upstream):
    # Given a day that holds the first request's reservation (its input's bound plus 20) but not, once
    # the provider's count of 15 is charged, the second's (the default output allowance)
    gateway_env.setenv("DAILY_TOKEN_BUDGET", "100")
    services.reset()

    made = create({**HI, "max_output_tokens": 20})
    over = create(HI)

    assert made.status == 200 and call("GET", "/v1/usage").json["tokens_today"] == 15  # the provider's count
    assert over.status == 429 and over.error["code"] == "budget_exceeded" and len(upstream.received) == 1


def test_a_repeat_is_answered_from_the_cache_as_a_new_response(aws, gateway_env, upstream):
    gateway_env.setenv("CACHE_MODE", "all")
    services.reset()

    first = create(HI)
    again = create(HI)
    streamed = create({**HI, "stream": True})

    assert (first.headers["x-cache"], again.headers["x-cache"], streamed.headers["x-cache"]) == (
        "miss",
        "hit",
        "hit",
    )
    assert again.json["output_text"] == first.json["output_text"] and again.json["id"] != first.json["id"]
    assert events(streamed)[-1]["type"] == "response.completed" and len(upstream.received) == 1
    assert call("GET", f"/v1/responses/{events(streamed)[-1]['response']['id']}").status == 200


@pytest.mark.parametrize("where", ["input", "instructions", "tool output"])
def test_the_blocklist_covers_every_text_sent(gateway_env, upstream, where):
    gateway_env.setenv("BLOCKED_PATTERNS", "forbidden")
    services.reset()
    body = {"model": "m", "input": "fine", "instructions": "fine"}
    if where == "tool output":
        body["input"] = [
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "forbidden"},
        ]
    else:
        body[where] = "a forbidden word"

    reply = create(body)

    assert reply.status == 400 and reply.error["code"] == "content_blocked" and upstream.received == []


def test_the_deadline_is_chats(gateway_env, upstream):
    gateway_env.setenv("AI_MODEL_TIMEOUT_S", "0.3")
    gateway_env.setenv("AI_MODEL_MAX_RETRIES", "0")
    services.reset()
    upstream.then(Behaviour(delay_s=3))

    reply = create(HI)

    assert reply.status == 504 and reply.error["code"] == "upstream_timeout"


def test_a_stream_that_breaks_off_ends_with_response_failed_and_is_charged(aws, upstream, output):
    upstream.then(Behaviour(words=("one", " two", " three"), stream_cut_after=1))

    reply = create({**HI, "stream": True})

    kinds = [event["type"] for event in events(reply)]
    assert (
        kinds[0] == "response.created"
        and kinds[-1] == "response.failed"
        and "response.completed" not in kinds
    )
    access = output.access_lines()[-1]
    assert access["route"] == "POST /v1/responses" and access["outcome"] == "upstream_error"
    assert access["charged_tokens"] > 0  # the reservation: the provider may have billed it


def test_the_access_line_has_the_route_model_and_usage(gateway_env, output):
    create(HI)

    access = output.access_lines()[-1]
    assert access["route"] == "POST /v1/responses" and access["status"] == 200
    assert (access["model"], access["prompt_tokens"], access["completion_tokens"]) == ("m", 11, 4)


ROUTES = """
[[route]]
name = "gpt"
provider = "openai"
endpoint = "{native}"
model = "gpt-5-mini"
key = "env:OPENAI_KEY"
apis = ["responses"]
fallbacks = ["chat"]
free_tokens_per_month = {free}
price_per_1k_tokens = 0.5

[[route]]
name = "chat"
provider = "openai"
endpoint = "{chat}"
model = "deepseek-chat"
key = "env:OPENAI_KEY"
price_per_1k_tokens = 0.5
"""


@pytest.fixture
def native_api():
    server = FakeResponsesAPI().start()
    yield server
    server.stop()


@pytest.fixture
def routed(aws, gateway_env, upstream, native_api, tmp_path):
    def configure(free=1_000_000):
        routes = tmp_path / "routes.toml"
        routes.write_text(ROUTES.format(native=native_api.base_url, chat=upstream.base_url, free=free))
        gateway_env.setenv("ROUTES_FILE", str(routes))
        gateway_env.setenv("OPENAI_KEY", "sk-route-key-0123456789abcdef")
        gateway_env.setenv("AI_MODEL_MAX_RETRIES", "0")
        services.reset()

    configure()
    return configure


def test_a_route_that_speaks_responses_gets_the_request_as_it_came(routed, native_api, upstream):
    body = {
        "model": "gpt",
        "input": "Search the web",
        "tools": [{"type": "web_search"}],
        "reasoning": {"effort": "high"},
        "include": ["message.output_text.logprobs"],
        "metadata": {"k": "v"},
    }
    native_api.then(Behaviour(body=responses.response(responses.reasoning(), responses.message("Found it."))))

    reply = create(body)

    sent = native_api.received[0]
    assert (
        sent.path == "/v1/responses"
        and sent.headers["Authorization"] == "Bearer sk-route-key-0123456789abcdef"
    )
    unsent = {"metadata"}  # the gateway's own: kept with the stored response, never sent
    expected = {name: value for name, value in body.items() if name not in unsent}
    assert sent.body == {**expected, "model": "gpt-5-mini", "max_output_tokens": 500, "store": False}
    assert sent.body["tools"] == [{"type": "web_search"}] and sent.body["reasoning"] == {"effort": "high"}
    assert [item["type"] for item in reply.json["output"]] == ["reasoning", "message"]
    assert reply.json["model"] == "gpt" and reply.json["reasoning"] == {"effort": "low", "summary": None}
    assert "sk-upstream" not in reply.text and upstream.received == []
    assert call("GET", "/v1/usage").json["tokens_today"] == 30  # the response's own usage, charged


def test_the_same_request_on_a_translated_route_is_a_400_naming_the_tool_and_nothing_is_sent(
    routed, native_api, upstream
):
    reply = create({"model": "chat", "input": "Search the web", "tools": [{"type": "web_search"}]})

    assert (
        reply.status == 400 and reply.error["param"] == "tools[0]" and "web_search" in reply.error["message"]
    )
    assert native_api.received == [] and upstream.received == []


def test_a_passing_through_route_that_fails_falls_back_to_a_translated_one(routed, native_api, upstream):
    native_api.then(Behaviour(503, {"error": {"message": "overloaded"}}))

    reply = create({"model": "gpt", "input": "Hi", "instructions": "Be brief."})

    assert reply.status == 200 and reply.json["model"] == "chat"
    assert reply.json["output_text"] == "hello from upstream"
    assert upstream.received[0].body["messages"][0] == {"role": "system", "content": "Be brief."}


def test_a_fallback_that_does_not_speak_responses_gets_what_chat_cannot_say_as_it_came(
    routed, native_api, upstream
):
    # Given a request with a file part, which only the Responses API carries, and its route failing
    native_api.then(Behaviour(503, {"error": {"message": "overloaded"}}))
    part = {"type": "input_file", "file_id": "file-abc"}

    # When its chat fallback serves it
    create(
        {
            "model": "gpt",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "Sum it"}, part]}],
        }
    )

    # Then the fallback was sent the part as it came (its provider refuses it by name), never without it
    assert upstream.received[0].body["messages"][0]["content"][1] == part


def test_a_passing_through_stream_sends_the_providers_events_on(routed, native_api):
    answer = responses.response(responses.reasoning(), responses.message("Found it."))
    native_api.then(Behaviour(body=responses.stream_events(answer)))

    reply = create({"model": "gpt", "input": "Hi", "stream": True})

    received = events(reply)
    assert [event["sequence_number"] for event in received] == list(range(len(received)))
    assert received[-1]["response"]["output"][0]["type"] == "reasoning"
    assert native_api.received[0].body["stream"] is True
    stored = call("GET", f"/v1/responses/{received[-1]['response']['id']}").json
    assert stored["output_text"] == "Found it."


def test_zero_cost_refuses_a_route_whose_allowance_is_spent(routed, gateway_env, native_api):
    gateway_env.setenv("ZERO_COST", "true")
    # Given an allowance that holds one small request's reservation, not what the provider then reports
    routed(free=40)

    first = create({"model": "gpt", "input": "Hi", "max_output_tokens": 16})
    second = create({"model": "gpt", "input": "Hi", "max_output_tokens": 16})

    assert first.status == 200  # 30 tokens charged: what is left no longer holds the second reservation
    assert second.status == 429 and second.error["code"] == "free_quota_exhausted"
    assert len(native_api.received) == 1


@pytest.fixture
def queries(monkeypatch):
    """The stored conversations the gateway reads (each one Query)."""
    made = []
    query_partition = Table.query_partition
    monkeypatch.setattr(
        Table,
        "query_partition",
        lambda table, *args, **kw: made.append(args) or query_partition(table, *args, **kw),
    )
    return made


def a_turn_that_used_the_burst(gateway_env):
    """A stored turn, made by a caller with a burst of one (so the minute's request is used)."""
    gateway_env.setenv("RATE_LIMIT_RPM", "1")
    gateway_env.setenv("RATE_LIMIT_BURST", "1")
    services.reset()
    return create(HI).json["id"]


def test_a_caller_known_over_its_rate_limit_is_refused_before_its_conversation_is_read(
    aws, gateway_env, upstream, queries
):
    # Given a caller whose one request of the minute made the turn it now continues
    made = a_turn_that_used_the_burst(gateway_env)

    # When it continues the conversation within the minute
    refused = create({**HI, "previous_response_id": made})

    # Then it is a 429, and the conversation was not read (no Query)
    assert refused.status == 429 and refused.error["type"] == "rate_limit_error"
    assert queries == [] and len(upstream.received) == 1


def count(body, key=None):
    headers = {"content-type": "application/json"}
    if key:
        headers["authorization"] = f"Bearer {key}"
    return call("POST", "/v1/responses/input_tokens", body, headers=headers)


def test_counting_input_tokens_charges_no_tokens_and_counts_as_a_request(aws, upstream):
    # When a caller counts a request's input tokens
    counted = count(HI)

    # Then it is told the count, and its day shows one request and no tokens; no model was asked
    usage = call("GET", "/v1/usage").json
    assert counted.status == 200 and counted.json["input_tokens"] > 0
    assert (usage["requests_today"], usage["tokens_today"]) == (1, 0)
    assert upstream.received == []


def test_counting_input_tokens_needs_a_known_caller(keys, upstream):
    # When an unknown caller counts, then a known one
    unknown = count(HI, "mg-not-a-key")
    known = count(HI, keys[0])

    # Then the unknown one is a 401 before anything else
    assert unknown.status == 401 and known.status == 200


def test_a_count_over_the_rate_limit_costs_no_query_even_in_a_fresh_container(aws, gateway_env, queries):
    # Given a caller whose one request of the minute made a turn, and a container that never saw it
    made = a_turn_that_used_the_burst(gateway_env)
    services.reset()

    # When it counts a turn that continues the conversation
    refused = count({**HI, "previous_response_id": made})

    # Then it is a 429 (a count reserves nothing, so its admission comes first), and no Query was made
    assert refused.status == 429 and queries == []

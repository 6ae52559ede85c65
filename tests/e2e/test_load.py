"""`make load`, short: concurrent callers against `make run`, and the usage check it ends with."""

import io

import pytest

from bench import load
from bench.local_gateway import local_gateway


@pytest.fixture(scope="module")
def gateway_url():
    # make run's stack (embedded AWS, built-in model, the handler's imports) starts in seconds, but in
    # a minute or more on a heavily loaded machine: the wait is for /health, with room for that
    with local_gateway(start_timeout_s=180) as url:
        yield url


def test_a_short_load_run_finds_every_token_recorded_once(gateway_url):
    out = io.StringIO()
    # Bounded by the request count: each caller's seeded request comes back every fifth request, so a
    # slow machine must still reach the second one (the run's time limit is only a backstop).
    status = load.run(gateway_url, clients=3, seconds=30.0, max_requests=60, api_key=None, out=out)
    report = out.getvalue()
    assert status == 0, report
    assert "usage: 3 callers" in report and "nothing lost, nothing counted twice" in report
    assert "latency p50" in report and "p99" in report and "errors: 0" in report
    assert "cache hits: 0" not in report  # the repeated seeded request was answered from the cache


def test_the_check_fails_when_the_table_counts_tokens_no_counted_reply_carried(gateway_url):
    client = load.Client(gateway_url, index=7, api_key=None)
    before = {7: client.usage()}
    tally = load.Tally()
    load.drive(client, load.Budget(seconds=30, requests=4), tally)  # four requests, each one in the tally
    status, _, _ = client.request("POST", "/api/generate", {"prompt": "a request the tally never saw"})
    after = {7: client.usage()}
    client.close()

    [check] = load.check_usage(before, after, {7: tally})
    assert status == 200 and sum(tally.statuses.values()) == 4 and tally.reply_tokens > 0
    assert check.recorded_tokens > check.reply_tokens and not check.holds

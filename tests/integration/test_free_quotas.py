"""Free monthly allowances counted in the table, and ZERO_COST moving traffic, then refusing."""

from __future__ import annotations

import pytest

from lib import services
from lib.core.token_estimate import MESSAGE_TOKENS, REQUEST_TOKENS
from lib.platform.store import QUOTAS_PARTITION
from tests.conftest import TABLE_NAME, call
from tests.integration.test_routing import write_routes

ROUTES = """
default = "free"

[[route]]
name = "free"
provider = "openai"
endpoint = "{url}"
model = "m1"
key = "env:K"
fallbacks = ["paid", "selfhosted"]
free_tokens_per_month = {allowance}

[[route]]
name = "paid"
provider = "openai"
endpoint = "{url}"
model = "m2"
key = "env:K"
price_per_1k_tokens = 0.002

[[route]]
name = "selfhosted"
provider = "openai"
endpoint = "{url}"
model = "m3"
key = "env:K"
{selfhosted_price}
"""


@pytest.fixture
def quota_routes(aws, gateway_env, upstream, tmp_path):
    def configure(allowance: int, zero_cost: bool, selfhosted_free: bool = True) -> None:
        text = ROUTES.format(
            url=upstream.base_url,
            allowance=allowance,
            selfhosted_price="price_per_1k_tokens = 0" if selfhosted_free else "",
        )
        gateway_env.setenv("ROUTES_FILE", write_routes(tmp_path, text))
        gateway_env.setenv("K", "sk-quota-test-key-0123456789")
        gateway_env.setenv("ZERO_COST", "true" if zero_cost else "false")
        services.reset()

    return configure


def month_tokens(aws, route: str) -> int:
    from lib.routing.quotas import FreeQuotas

    item = aws.get_item(TableName=TABLE_NAME, Key={"pk": {"S": QUOTAS_PARTITION}, "sk": {"S": route}}).get(
        "Item", {}
    )
    counter = item.get(f"tokens_{FreeQuotas(None, False).month()}")
    return int(counter["N"]) if counter else 0


def test_a_routes_tokens_are_counted_for_the_month(aws, quota_routes, upstream):
    quota_routes(allowance=100_000, zero_cost=False)
    assert call("POST", "/api/generate", {"prompt": "hi"}).status == 200
    assert call("POST", "/api/generate", {"prompt": "hi"}).status == 200
    assert month_tokens(aws, "free") == 30  # 15 real tokens each (the fake's usage), reservations replaced
    assert month_tokens(aws, "paid") == 0


def test_without_zero_cost_a_spent_allowance_does_not_stop_the_route(aws, quota_routes, upstream):
    quota_routes(allowance=10, zero_cost=False)
    for _ in range(3):
        assert call("POST", "/api/generate", {"prompt": "hi"}).json["model"] == "free"
    assert month_tokens(aws, "free") == 45


SMALL = {"prompt": "hi", "max_tokens": 4}  # reserves 22: the input's bound (18) and max_tokens
SMALL_RESERVED = REQUEST_TOKENS + MESSAGE_TOKENS + len("hi") + 4


def test_zero_cost_moves_to_a_free_fallback_and_skips_paid_ones(aws, quota_routes, upstream):
    quota_routes(allowance=40, zero_cost=True)
    assert SMALL_RESERVED == 22
    assert call("POST", "/api/generate", SMALL).json["model"] == "free"  # 15 of 40 used (the fake's usage)
    assert call("POST", "/api/generate", SMALL).json["model"] == "free"  # 22 fits in the 25 left
    reply = call("POST", "/api/generate", SMALL)  # 22 does not fit in the 10 left: spent for this request
    assert reply.json["model"] == "selfhosted"  # "paid" has a price and no allowance: never used
    assert [sent.body["model"] for sent in upstream.received] == ["m1", "m1", "m3"]


def test_zero_cost_refuses_when_no_route_may_serve(aws, quota_routes, upstream, output):
    quota_routes(allowance=30, zero_cost=True, selfhosted_free=False)
    assert call("POST", "/api/generate", SMALL).status == 200
    reply = call("POST", "/api/generate", SMALL)
    assert reply.status == 429 and reply.error["code"] == "free_quota_exhausted"
    assert 1 <= int(reply.headers["retry-after"]) <= 31 * 86_400
    assert len(upstream.received) == 1  # nothing was sent that could cost money
    assert output.access_lines()[-1]["failed_routes"] == [
        "free:free_quota",
        "paid:free_quota",
        "selfhosted:free_quota",
    ]


def test_zero_cost_charges_the_reservation_when_a_failed_call_may_have_been_billed(
    aws, quota_routes, upstream
):
    from tests.support.fake_upstream import Behaviour

    quota_routes(allowance=100_000, zero_cost=True)
    upstream.then(*[Behaviour(cut_after=5)] * 4)
    call("POST", "/api/generate", {"prompt": "hi", "max_tokens": 50})
    assert month_tokens(aws, "free") == REQUEST_TOKENS + MESSAGE_TOKENS + len("hi") + 50


def test_make_usage_shows_each_routes_tokens_against_its_allowance(aws, quota_routes, upstream, gateway_env):
    import io
    import os

    from lib.admin.usage import print_route_usage
    from lib.platform.store import Table

    quota_routes(allowance=1000, zero_cost=False)
    call("POST", "/api/generate", {"prompt": "hi"})
    out = io.StringIO()
    print_route_usage(Table(aws, TABLE_NAME), os.environ["ROUTES_FILE"], out)
    rows = {line.split()[0]: line.split()[1:] for line in out.getvalue().splitlines()[3:]}
    assert rows["free"] == ["1", "15", "1000", "985"]

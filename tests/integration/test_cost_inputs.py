"""The cost model's per-request inputs, measured from the code, and the free-tier bound they must keep."""

import pytest

from bench.cost_estimate import free_tier_bounds
from bench.deployment import deployment_from_template
from bench.measure import measure
from bench.table_capacity import table_loads
from local.template import load_template


@pytest.fixture(scope="module")
def measured_and_sent():
    """One measurement (it runs every outcome), recording each request's source IP and status."""
    import bench.measure

    sent = []
    request = bench.measure.send_request

    def recording(*args, **kwargs):
        status = request(*args, **kwargs)
        sent.append((kwargs.get("source_ip", "127.0.0.1"), status))
        return status

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bench.measure, "send_request", recording)
        # In-process moto on a loaded machine can take longer than DynamoDB's worst call: room for it
        patch.setattr("lib.services.REQUEST_CALL_LIMIT_S", 15.0)
        return measure(), sent


@pytest.fixture
def measured(measured_and_sent):
    return measured_and_sent[0]


@pytest.fixture
def sent(measured_and_sent):
    return measured_and_sent[1]


def test_the_default_metrics_stay_within_the_ten_free_series(measured):
    assert measured.metric_series <= 10, (
        f"CloudWatch free tier: 10 custom metric series; the handler emits {measured.metric_series} "
        "across every outcome by default"
    )


def test_detailed_metrics_add_series(measured):
    assert measured.metric_series_detailed > measured.metric_series


def test_a_served_request_costs_two_writes_and_no_read(measured):
    assert measured.dynamodb_writes_per_request == 2.0
    assert measured.dynamodb_reads_per_request == 0.0


def test_junk_costs_the_table_at_most_one_write_or_one_read(measured):
    # A refusal in a container that has never seen the caller: one failed write returns the item.
    assert measured.dynamodb_writes_per_refusal == 1 and measured.dynamodb_reads_per_refusal == 0
    assert measured.dynamodb_reads_per_unknown_key == 1


def test_each_optional_feature_states_the_writes_it_adds(measured):
    assert measured.feature_writes_per_request == {
        "GLOBAL_DAILY_TOKEN_BUDGET": 3.0,
        "routes with free_tokens_per_month": 3.0,
        "ZERO_COST (routes with allowances)": 4.0,
        "stored Responses (POST /v1/responses)": 3.0,  # the turn's PutItem
    }


def test_the_default_table_keeps_up_with_the_default_throttle(measured):
    for load in table_loads(deployment_from_template(load_template(), {}), measured):
        if not load.optional:  # an option: the README says what it needs
            assert load.fits, (
                f"{load.what}: {load.units_per_second} {load.unit} needed, {load.capacity} provisioned"
            )


def test_each_outcome_comes_from_a_caller_of_its_own(sent):
    """Callers are told apart by the source IP in the request context: a primer must use the same
    source IP as the request it primes, and no other outcome may share it, so what one outcome leaves
    in the table (a used-up bucket or budget) never decides another's, however slowly the machine runs."""
    by_caller = {}
    for source_ip, status in sent:
        by_caller.setdefault(source_ip, []).append(status)
    refused = {ip: statuses for ip, statuses in by_caller.items() if 429 in statuses}
    assert len(refused) >= 2, "the rate-limit and budget outcomes each need a caller of their own"
    for statuses in refused.values():
        assert statuses == [200, 429], "one primer, then the refused request, from the same caller"


def test_log_bytes_per_request_are_measured(measured):
    # One access line and one EMF blob; prompts are not logged by default.
    assert 600 < measured.log_bytes_per_request < 4000


def test_every_free_tier_bound_of_the_default_stack_holds(measured):
    deployment = deployment_from_template(load_template(), {})
    for bound, (used, limit) in free_tier_bounds(deployment, measured).items():
        assert used <= limit, f"free-tier bound broken: {bound} uses {used}, the free limit is {limit}"


def test_the_cache_adds_one_read_per_cacheable_request_and_one_write_per_miss(measured):
    assert measured.cache_reads_per_cacheable_request == 1.0
    assert measured.cache_writes_per_miss == 1.0

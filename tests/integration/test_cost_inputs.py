"""The cost model's per-request inputs, measured from the code, and the free-tier bound they must keep."""

import pytest

from bench.cost import deployment_from_template, free_tier_bounds
from bench.measure import measure
from local.template import load_template


@pytest.fixture(scope="module")
def measured():
    return measure()


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

"""`make cost` for the template's optional parts: the streaming function, point-in-time recovery, the HTTP
API's access logs, features that write to the table; and the free allowances being the account's."""

from dataclasses import replace

import pytest

from bench import cost, cost_report
from bench.cost_estimate import estimate
from bench.deployment import deployment_from_template
from local.template import load_template
from tests.unit.test_cost import MEASURED, by_service

TEMPLATE = load_template()


def default(**overrides):
    return deployment_from_template(TEMPLATE, overrides)


def test_the_report_says_free_allowances_are_shared_by_every_stack_in_the_account():
    report = cost_report.render(default(), MEASURED, [10_000], 2.0, {})
    assert "per account" in report and "a second stack" in report


class TestStreaming:
    def test_its_alarms_count_only_when_it_is_deployed(self):
        assert default().alarm_metrics == 9
        assert default(EnableStreaming="true").alarm_metrics == 11  # its Errors and Throttles alarms

    def test_streamed_requests_skip_the_http_api_and_its_alarms_pass_the_free_ten(self):
        # Given half the requests sent to the streaming URL
        lines = by_service(
            estimate(default(EnableStreaming="true"), MEASURED, 1_000_000, 2.0, stream_share=0.5)
        )
        # Then only the other half pays the HTTP API, and the two extra alarm metrics cost $0.10
        assert lines["API Gateway HTTP API"] == pytest.approx(0.50)
        assert lines["Streaming Function URL"] == 0.0
        assert lines["CloudWatch alarms"] == pytest.approx(0.10)

    def test_the_share_means_nothing_without_the_streaming_function(self):
        lines = by_service(estimate(default(), MEASURED, 1_000_000, 2.0, stream_share=0.5))
        assert lines["API Gateway HTTP API"] == pytest.approx(1.00) and "Streaming Function URL" not in lines


class TestPointInTimeRecovery:
    def test_it_is_on_by_default_and_costs_under_a_cent_for_the_default_table(self):
        for requests in (10_000, 100_000, 1_000_000):
            lines = by_service(estimate(default(), MEASURED, requests, 2.0))
            assert 0 < lines["DynamoDB backups (PITR)"] < 0.01

    def test_cached_answers_grow_the_table_it_backs_up(self):
        small = by_service(estimate(default(), MEASURED, 1_000_000, 2.0))["DynamoDB backups (PITR)"]
        cached = by_service(estimate(default(), MEASURED, 1_000_000, 2.0, cacheable_share=1.0))
        assert cached["DynamoDB backups (PITR)"] > small

    def test_turned_off_it_costs_nothing(self):
        lines = by_service(estimate(default(TablePointInTimeRecovery="false"), MEASURED, 1_000_000, 2.0))
        assert "DynamoDB backups (PITR)" not in lines


class TestAccessLogs:
    def test_a_line_is_sized_from_the_templates_format(self):
        assert 150 < default().access_log_bytes < 400
        assert default(HttpApiAccessLogs="false").access_log_bytes == 0

    def test_they_are_free_up_to_a_million_requests_and_cost_beyond(self):
        on, off = default(), default(HttpApiAccessLogs="false")
        assert by_service(estimate(on, MEASURED, 1_000_000, 2.0))["CloudWatch Logs"] == 0.0
        at_10m = [by_service(estimate(d, MEASURED, 10_000_000, 2.0))["CloudWatch Logs"] for d in (on, off)]
        assert at_10m[0] > at_10m[1]


class TestFeaturesThatWrite:
    MEASURED = replace(
        MEASURED, feature_writes_per_request={"GLOBAL_DAILY_TOKEN_BUDGET": 3.0, "stored Responses": 4.0}
    )

    def test_a_parameter_that_turns_a_feature_on_prices_its_writes(self):
        on_demand = default(TableBillingMode="PAY_PER_REQUEST", GlobalDailyTokenBudget="100000")
        assert on_demand.features == ("GLOBAL_DAILY_TOKEN_BUDGET",)
        lines = by_service(estimate(on_demand, self.MEASURED, 1_000_000, 2.0))
        assert lines["DynamoDB"] == pytest.approx(3_000_000 * 0.625 / 1e6)

    def test_a_feature_named_on_the_command_line_is_priced_too(self):
        on_demand = default(TableBillingMode="PAY_PER_REQUEST")
        lines = by_service(estimate(on_demand, self.MEASURED, 1_000_000, 2.0, features=("stored Responses",)))
        assert lines["DynamoDB"] == pytest.approx(4_000_000 * 0.625 / 1e6)


def test_bad_shares_and_unknown_features_are_refused_naming_what_is_accepted(capsys):
    assert cost.main(["--stream-share", "2"]) == 2
    assert "--stream-share must be between 0 and 1" in capsys.readouterr().err
    assert cost.main(["--with", "NoSuchFeature"]) == 2
    assert "GLOBAL_DAILY_TOKEN_BUDGET" in capsys.readouterr().err

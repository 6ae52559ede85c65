"""The cost model's arithmetic, its reading of template.yaml, and the default stack's free-tier bounds."""

from dataclasses import replace

import pytest

from bench import aws_prices, cost, cost_report
from bench.cost import parse_requests
from bench.cost_estimate import estimate
from bench.deployment import CostInputError, deployment_from_template
from bench.measure import Measured
from bench.table_capacity import capacity_report, table_loads
from local.template import load_template

TEMPLATE = load_template()
# Fixed inputs for the arithmetic (the measured ones: tests/integration/test_cost_inputs.py).
MEASURED = Measured(
    metric_series=10,
    metric_series_detailed=23,
    dynamodb_writes_per_request=2.0,
    dynamodb_reads_per_request=0.0,
    log_bytes_per_request=1400,
    cache_reads_per_cacheable_request=1.0,
    cache_writes_per_miss=1.0,
)


def default(**overrides):
    return deployment_from_template(TEMPLATE, overrides)


def by_service(lines):
    return {line.service: line.usd for line in lines}


def total(deployment, requests, upstream_seconds=2.0):
    return sum(by_service(estimate(deployment, MEASURED, requests, upstream_seconds)).values())


class TestArithmetic:
    def test_lambda_duration_beyond_the_free_gb_seconds(self):
        # 1M x (2 s + 0.03 s) x 0.25 GB + 4,380 cold starts x 0.6 s x 0.25 GB = 508,157 GB-s; 108,157 billable
        lines = by_service(estimate(default(), MEASURED, 1_000_000, 2.0))
        assert lines["Lambda duration"] == pytest.approx((507_500 + 657 - 400_000) * 0.0000133334)

    def test_lambda_requests_beyond_the_free_million(self):
        lines = by_service(estimate(default(), MEASURED, 3_000_000, 0.0))
        assert lines["Lambda requests"] == pytest.approx((3_000_000 + 30.4 / 90 * 4 - 1_000_000) * 0.2 / 1e6)

    def test_http_api_has_no_free_tier_after_the_first_year(self):
        assert by_service(estimate(default(), MEASURED, 10_000, 2.0))[
            "API Gateway HTTP API"
        ] == pytest.approx(0.01)

    def test_the_default_stack_is_free_but_for_the_http_api_at_personal_scale(self):
        for requests in (10_000, 100_000):
            lines = by_service(estimate(default(), MEASURED, requests, 2.0))
            # As printed, to the cent (point-in-time recovery of the small table is a fraction of one).
            assert {name for name, usd in lines.items() if round(usd, 2) > 0} == {"API Gateway HTTP API"}

    def test_on_demand_dynamodb_bills_each_write(self):
        lines = by_service(estimate(default(TableBillingMode="PAY_PER_REQUEST"), MEASURED, 1_000_000, 2.0))
        assert lines["DynamoDB"] == pytest.approx(2_000_000 * 0.625 / 1e6)

    def test_logs_beyond_five_gigabytes(self):
        requests = 10_000_000  # 10M x 1,720 bytes = 16.0 GiB
        lines = by_service(estimate(default(HttpApiAccessLogs="false"), MEASURED, requests, 0.0))
        ingested = requests * 1720 / 1024**3
        stored = ingested * 0.15 * 14 / 30.4
        assert lines["CloudWatch Logs"] == pytest.approx((ingested - 5) * 0.5 + stored * 0.03)

    def test_provisioned_capacity_over_the_free_25_units_is_billed(self):
        deployment = default(TableWriteCapacityUnits="30", TableReadCapacityUnits="27")
        lines = by_service(estimate(deployment, MEASURED, 1000, 2.0))
        assert lines["DynamoDB"] == pytest.approx(730 * (5 * 0.00065 + 2 * 0.00013))

    def test_a_table_too_small_for_the_traffic_is_flagged(self):
        lines = estimate(default(TableWriteCapacityUnits="1"), MEASURED, 10_000_000, 2.0)
        assert "OVER CAPACITY" in next(line.detail for line in lines if line.service == "DynamoDB")


class TestEachParameterMovesTheEstimate:
    @pytest.mark.parametrize(
        ("parameter", "value", "service"),
        [
            ("KeyStore", "secretsmanager", "Secrets Manager"),
            ("TableBillingMode", "PAY_PER_REQUEST", "DynamoDB"),
            ("DetailedMetrics", "true", "CloudWatch metrics"),
            ("FunctionMemoryMB", "1024", "Lambda duration"),
            ("LogRetentionDays", "90", "CloudWatch Logs"),
        ],
    )
    def test_the_paid_option_costs_more(self, parameter, value, service):
        requests = 20_000_000 if service == "CloudWatch Logs" else 1_000_000
        before = by_service(estimate(default(), MEASURED, requests, 2.0)).get(service, 0.0)
        after = by_service(estimate(default(**{parameter: value}), MEASURED, requests, 2.0))[service]
        assert after > before

    def test_secrets_manager_is_about_forty_cents(self):
        lines = by_service(estimate(default(KeyStore="secretsmanager"), MEASURED, 10_000, 2.0))
        assert lines["Secrets Manager"] == pytest.approx(0.40 + 8_760 * 0.05 / 10_000)
        assert "SSM Parameter Store" not in lines

    def test_the_function_url_removes_the_api_gateway_charge(self):
        assert total(default(EnableFunctionUrl="true"), 1_000_000) == pytest.approx(
            total(default(), 1_000_000) - 1.00
        )

    def test_a_slower_model_costs_more_lambda_time(self):
        assert total(default(), 1_000_000, 5.0) > total(default(), 1_000_000, 2.0)


class TestBadInput:
    @pytest.mark.parametrize("text", ["", "ten", "10x", "-5", "0", "1.5", "1e3", "10k,", "99999999999"])
    def test_bad_request_counts(self, text):
        with pytest.raises(CostInputError, match="bad request count"):
            parse_requests(text)

    def test_good_request_counts(self):
        assert parse_requests("10k, 100K,1M,2500,1.5M") == [10_000, 100_000, 1_000_000, 2_500, 1_500_000]

    def test_an_unknown_parameter_is_named(self):
        with pytest.raises(CostInputError, match="unknown parameter 'Keystore'"):
            default(Keystore="ssm")

    @pytest.mark.parametrize(
        ("parameter", "value", "says"),
        [
            ("KeyStore", "vault", "use one of ssm, secretsmanager"),
            ("FunctionMemoryMB", "64", "between 128"),
            ("TableWriteCapacityUnits", "many", "number"),
        ],
    )
    def test_a_bad_parameter_value_says_what_is_allowed(self, parameter, value, says):
        with pytest.raises(CostInputError, match=says):
            default(**{parameter: value})

    def test_the_command_reports_bad_input_and_exits_2(self, capsys):
        assert cost.main(["--requests", "lots"]) == 2
        assert "bad request count 'lots'" in capsys.readouterr().err
        assert cost.main(["--set", "NoSuch=1"]) == 2
        assert cost.main(["--set", "KeyStore"]) == 2


class TestFreeTierBoundsOfTheTemplate:
    """A template change that breaks an always-free bound fails here, naming the bound."""

    def test_alarm_metrics_stay_within_the_free_ten(self):
        used = default().alarm_metrics
        assert used <= 10, f"CloudWatch free tier: 10 alarm metrics; the template uses {used}"

    def test_dashboards_stay_within_the_free_three(self):
        used = default().dashboards
        assert used <= 3, f"CloudWatch free tier: 3 dashboards; the template has {used}"

    def test_provisioned_capacity_stays_within_the_free_25_units(self):
        deployment = default()
        assert deployment.table_billing == "PROVISIONED", "the default table must be provisioned (free)"
        assert deployment.table_write_capacity <= 25, "DynamoDB free tier: 25 WCU"
        assert deployment.table_read_capacity <= 25, "DynamoDB free tier: 25 RCU"

    def test_the_default_key_store_has_no_monthly_charge(self):
        assert default().key_store == "ssm", "Secrets Manager costs $0.40 a month: it must stay an option"

    def test_logs_are_not_kept_forever(self):
        assert default().log_retention_days <= 30, "log retention must be set so logs do not pile up"
        for name, resource in TEMPLATE["Resources"].items():
            if resource["Type"] == "AWS::Logs::LogGroup":
                assert resource["Properties"].get("RetentionInDays"), f"{name} keeps logs forever"

    def test_every_function_logs_to_a_group_with_retention(self):
        for name, resource in TEMPLATE["Resources"].items():
            if resource["Type"] == "AWS::Serverless::Function":
                assert "LoggingConfig" in resource["Properties"], f"{name} would log to a group kept forever"

    def test_the_rendered_report_states_prices_and_their_date(self):
        report = cost_report.render(default(), MEASURED, [10_000, 1_000_000], 2.0, {})
        assert aws_prices.PRICES_TAKEN in report and "free: 400,000 GB-seconds" in report
        assert report.count("$") > 20 and "total" in report


class TestResponseCache:
    CACHED = Measured(
        metric_series=10,
        metric_series_detailed=24,
        dynamodb_writes_per_request=2.0,
        dynamodb_reads_per_request=0.0,
        log_bytes_per_request=1400,
        cache_reads_per_cacheable_request=1.0,
        cache_writes_per_miss=1.0,
    )

    def test_cacheable_requests_add_a_read_and_each_miss_a_write(self):
        on_demand = default(TableBillingMode="PAY_PER_REQUEST")
        lines = by_service(estimate(on_demand, self.CACHED, 1_000_000, 2.0, cacheable_share=0.5))
        assert lines["DynamoDB"] == pytest.approx(2_500_000 * 0.625 / 1e6 + 500_000 * 0.125 / 1e6)

    def test_every_request_a_cacheable_miss_stays_within_the_free_provisioned_table_at_1m(self):
        lines = estimate(default(), self.CACHED, 1_000_000, 2.0, cacheable_share=1.0)
        dynamodb = next(line for line in lines if line.service == "DynamoDB")
        assert dynamodb.usd == 0.0 and "OVER CAPACITY" not in dynamodb.detail
        assert "1.14 WCU and 0.19 RCU" in dynamodb.detail


class TestTheTableKeepsUpWithTheThrottle:
    """The defaults agree: whatever the HTTP API lets through, the default table takes without throttling."""

    def test_every_kind_of_request_at_the_default_throttle_fits_the_default_table(self):
        for load in table_loads(default(), MEASURED):
            if not load.optional:
                assert load.fits, (
                    f"{load.what} need {load.units_per_second} {load.unit}, the table has {load.capacity}"
                )

    def test_a_faster_throttle_than_the_table_is_flagged(self):
        report = "\n".join(capacity_report(default(ApiThrottleRateLimit="20"), MEASURED))
        assert "served requests: 40 WCU of 15 - TOO SMALL" in report

    def test_an_optional_feature_states_the_writes_it_adds_and_the_units_it_needs(self):
        measured = replace(MEASURED, feature_writes_per_request={"ZERO_COST": 4.0})
        report = "\n".join(capacity_report(default(), measured))
        assert "ZERO_COST: +2" in report
        assert "served requests with ZERO_COST: 20 WCU of 15 - TOO SMALL" in report
        report = "\n".join(capacity_report(default(TableWriteCapacityUnits="20"), measured))
        assert "TOO SMALL" not in report

    def test_the_report_says_the_free_units_are_shared_and_the_function_url_is_unthrottled(self):
        report = "\n".join(capacity_report(default(EnableFunctionUrl="true"), MEASURED))
        assert "shared by every provisioned table in the account" in report
        assert "Function URL has no throttle" in report

    def test_an_on_demand_table_has_no_capacity_to_outrun(self):
        report = "\n".join(capacity_report(default(TableBillingMode="PAY_PER_REQUEST"), MEASURED))
        assert "TOO SMALL" not in report and "on-demand" in report

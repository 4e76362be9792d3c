"""The monthly cost estimate: alarm billing rules and the arithmetic, line by line."""

from __future__ import annotations

import json

import pytest

from ial_resilience.aws import obs_costs
from ial_resilience.aws.obs_costs import Usage, alarm_metrics, custom_metrics, estimate
from ial_resilience.aws.obs_desired import desired_state
from ial_resilience.aws.obs_model import AlarmKind, Desired, Kind
from ial_resilience.aws.obs_scope import Scope
from ial_resilience.cli.main import main

SCOPE = Scope.for_environment("prod")
TOPIC = "arn:aws:sns:us-east-1:123456789012:ialr-prod-alarms"


def _alarm(key: str, kind: AlarmKind, spec: dict[str, object]) -> Desired:
    return Desired(Kind.ALARM, key, key, spec, kind)


def _stat(namespace: str, metric: str, period: int = 60) -> dict[str, object]:
    return {
        "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": metric},
            "Period": period,
            "Stat": "Sum",
        }
    }


def test_alarm_metric_counts() -> None:
    assert alarm_metrics({"MetricName": "m", "Period": 60}) == 1
    assert (
        alarm_metrics(
            {
                "Metrics": [
                    _stat("A", "good"),
                    _stat("A", "total"),
                    {"Id": "burn", "Expression": "good / total"},
                ]
            }
        )
        == 2
    )
    assert alarm_metrics({"Metrics": [{"Id": "q1", "Expression": "SELECT …"}]}) == 1


def test_each_line_is_quantity_times_unit_price() -> None:
    items = (
        Desired(
            Kind.DASHBOARD,
            "d",
            "d",
            {
                "DashboardBody": json.dumps(
                    {
                        "widgets": [
                            {
                                "properties": {
                                    "metrics": [
                                        ["IaL/Business", "orders", {"stat": "Sum"}],
                                        ["AWS/ECS", "CPUUtilization", {"stat": "Average"}],
                                    ]
                                }
                            }
                        ]
                    }
                )
            },
        ),
        _alarm(
            "s",
            AlarmKind.STATIC,
            {"Namespace": "IaL/Business", "MetricName": "orders", "Period": 60},
        ),
        _alarm(
            "fast", AlarmKind.STATIC, {"Namespace": "AWS/ECS", "MetricName": "CPU", "Period": 10}
        ),
        _alarm("a", AlarmKind.ANOMALY, {"Metrics": [_stat("AWS/ELB", "RequestCount")]}),
        _alarm(
            "b",
            AlarmKind.BURN_RATE,
            {"Metrics": [_stat("IaL/Business", "ok"), _stat("IaL/Business", "all")]},
        ),
        Desired(Kind.COMPOSITE_ALARM, "c", "c", {"AlarmRule": "ALARM(a)"}, AlarmKind.COMPOSITE),
    )
    usage = Usage(
        traces_recorded_per_month=2_500_000,
        traces_scanned_per_month=400_000,
        insights_gb_scanned_per_month=40,
    )
    lines = {line.item: line for line in estimate(items, usage).lines}
    assert lines["dashboards"].monthly == pytest.approx(3.00)
    assert lines["alarm metrics (static)"].monthly == pytest.approx(0.10)
    assert lines["alarm metrics (static, high resolution)"].monthly == pytest.approx(0.30)
    assert lines["alarm metrics (anomaly)"].quantity == 3
    assert lines["alarm metrics (anomaly)"].monthly == pytest.approx(0.30)
    assert lines["alarm metrics (burn-rate)"].monthly == pytest.approx(0.20)
    assert lines["composite alarms"].monthly == pytest.approx(0.50)
    assert lines["custom metrics (IaL/*)"].quantity == 3  # orders, ok, all
    assert lines["custom metrics (IaL/*)"].monthly == pytest.approx(0.90)
    assert lines["X-Ray traces recorded"].monthly == pytest.approx(12.50)
    assert lines["X-Ray traces retrieved or scanned"].monthly == pytest.approx(0.20)
    assert lines["Logs Insights data scanned"].monthly == pytest.approx(0.20)
    assert estimate(items, usage).total == pytest.approx(
        3.00 + 0.10 + 0.30 + 0.30 + 0.20 + 0.50 + 0.90 + 12.50 + 0.20 + 0.20
    )


def test_the_default_set_up_costs_what_its_parts_cost() -> None:
    items = desired_state(SCOPE, TOPIC)
    result = estimate(items, Usage(0, 0, 0))
    lines = {line.item: line.quantity for line in result.lines}
    assert lines["dashboards"] == 3
    assert lines["composite alarms"] == 4  # api-degraded + one per SLO window pair
    assert lines["alarm metrics (anomaly)"] == 2 * 3
    assert lines["alarm metrics (burn-rate)"] == 3 * 2 * 2  # 3 pairs, 2 windows, good+total
    assert lines["alarm metrics (static)"] == 8 + 1  # 8 thresholds + the Insights query alarm
    assert custom_metrics(items) == lines["custom metrics (IaL/*)"]
    expected = 3 * 3.00 + 4 * 0.50 + (6 + 12 + 9) * 0.10 + lines["custom metrics (IaL/*)"] * 0.30
    assert result.total == pytest.approx(expected)
    assert result.as_json()["prices_as_of"] == obs_costs.PRICES_AS_OF


def test_negative_usage_is_refused() -> None:
    with pytest.raises(ValueError, match="traces_recorded_per_month"):
        Usage(traces_recorded_per_month=-1)


def test_cli_cost_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "observe",
            "cost",
            "--json",
            "--traces-per-month",
            "0",
            "--traces-scanned-per-month",
            "0",
            "--insights-gb",
            "0",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["currency"] == "USD" and out["prices_as_of"] == obs_costs.PRICES_AS_OF
    assert out["monthly_total_usd"] == round(sum(line["monthly_usd"] for line in out["lines"]), 2)


def test_cli_cost_table_and_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["observe", "cost"]) == 0
    out = capsys.readouterr().out
    assert "dashboards" in out and "total: $" in out and obs_costs.PRICES_AS_OF in out
    assert main(["observe", "cost", "--insights-gb", "-5"]) == 3
    assert "insights_gb_scanned_per_month must be >= 0" in capsys.readouterr().err

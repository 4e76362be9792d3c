"""SLO burn-rate rules from a real rule file compiled into CloudWatch metric-math alarms."""

from __future__ import annotations

from pathlib import Path

import pytest

from ial_resilience.alerting.rules import RuleFile, load_rules
from ial_resilience.aws.obs_burn_rate import (
    burn_expression,
    burn_rate_alarms,
    dimension_sets,
    evaluation,
    slug,
    window_label,
)
from ial_resilience.aws.obs_model import AlarmKind, Desired, Kind
from ial_resilience.aws.obs_scope import Scope

SCOPE = Scope.for_environment("prod")
TOPIC = "arn:aws:sns:us-east-1:123456789012:ialr-prod-alarms"
RULES = """\
version: 1
rules:
  - name: orders-availability
    kind: burn_rate
    objective: 0.999
    good: {metric: http.requests, where: {service: orders, outcome: ok}}
    total: {metric: http.requests, where: {service: orders}}
  - name: orders_p95
    kind: threshold
    expr: {function: percentile, quantile: 95, metric: http.latency_ms, window: 1m}
    op: ">"
    value: 400
  - name: checkout.fast-burn
    kind: burn_rate
    severity: warning
    objective: 0.99
    good: {metric: checkout.ok}
    total: {metric: checkout.all}
    windows:
      - {long: 1h, short: 5m, factor: 10}
    scale: 0.01
"""


@pytest.fixture
def rules(tmp_path: Path) -> RuleFile:
    path = tmp_path / "alerts.yaml"
    path.write_text(RULES)
    return load_rules(path)


def _named(items: tuple[Desired, ...], key: str) -> Desired:
    return next(item for item in items if item.key == key)


def test_every_sre_window_pair_becomes_two_alarms_and_a_composite(rules: RuleFile) -> None:
    items = burn_rate_alarms(SCOPE, TOPIC, rules)
    orders = [i.key for i in items if i.key.startswith("slo-orders")]
    assert orders == [
        "slo-orders-availability-1h-5m-long",
        "slo-orders-availability-1h-5m-short",
        "slo-orders-availability-1h-5m",
        "slo-orders-availability-6h-30m-long",
        "slo-orders-availability-6h-30m-short",
        "slo-orders-availability-6h-30m",
        "slo-orders-availability-3d-6h-long",
        "slo-orders-availability-3d-6h-short",
        "slo-orders-availability-3d-6h",
    ]
    assert all(item.alarm_kind is AlarmKind.BURN_RATE for item in items)


def test_threshold_rules_stay_local(rules: RuleFile) -> None:
    assert not any("p95" in item.key for item in burn_rate_alarms(SCOPE, TOPIC, rules))


def test_both_windows_must_burn_and_only_the_composite_pages(rules: RuleFile) -> None:
    items = burn_rate_alarms(SCOPE, TOPIC, rules)
    composite = _named(items, "slo-orders-availability-1h-5m")
    assert composite.kind is Kind.COMPOSITE_ALARM
    assert composite.spec["AlarmRule"] == (
        'ALARM("ialr-prod-slo-orders-availability-1h-5m-long") AND '
        'ALARM("ialr-prod-slo-orders-availability-1h-5m-short")'
    )
    assert composite.spec["AlarmActions"] == [TOPIC]
    assert composite.depends_on == (
        "slo-orders-availability-1h-5m-long",
        "slo-orders-availability-1h-5m-short",
    )
    assert "[critical]" in composite.spec["AlarmDescription"]
    window = _named(items, "slo-orders-availability-1h-5m-long")
    assert "AlarmActions" not in window.spec


def test_window_alarm_computes_the_burn_and_compares_with_the_factor(rules: RuleFile) -> None:
    items = burn_rate_alarms(SCOPE, TOPIC, rules)
    long = _named(items, "slo-orders-availability-1h-5m-long").spec
    good, total, burn = long["Metrics"]
    assert good["MetricStat"]["Metric"] == {
        "Namespace": "IaL/Business",
        "MetricName": "http.requests",
        "Dimensions": [{"Name": "outcome", "Value": "ok"}, {"Name": "service", "Value": "orders"}],
    }
    assert total["MetricStat"]["Metric"]["Dimensions"] == [{"Name": "service", "Value": "orders"}]
    assert good["MetricStat"]["Period"] == 3600 and good["MetricStat"]["Stat"] == "Sum"
    assert burn["Expression"] == "IF(total > 0, (1 - good / total) / 0.001, 0)"
    assert burn["ReturnData"] is True and good["ReturnData"] is False
    assert (long["Threshold"], long["ComparisonOperator"]) == (
        14.4,
        "GreaterThanOrEqualToThreshold",
    )
    short = _named(items, "slo-orders-availability-1h-5m-short").spec
    assert short["Metrics"][0]["MetricStat"]["Period"] == 300


def test_three_day_window_is_evaluated_as_three_whole_days(rules: RuleFile) -> None:
    spec = _named(burn_rate_alarms(SCOPE, TOPIC, rules), "slo-orders-availability-3d-6h-long").spec
    assert spec["Metrics"][0]["MetricStat"]["Period"] == 86400
    assert spec["EvaluationPeriods"] == spec["DatapointsToAlarm"] == 3
    assert "3 whole days" in spec["AlarmDescription"]


def test_scaled_demo_windows_round_to_valid_periods(rules: RuleFile) -> None:
    items = burn_rate_alarms(SCOPE, TOPIC, rules)
    checkout = [i for i in items if i.key.startswith("slo-checkout")]
    assert [i.key for i in checkout] == [
        "slo-checkout-fast-burn-36s-3s-long",
        "slo-checkout-fast-burn-36s-3s-short",
        "slo-checkout-fast-burn-36s-3s",
    ]
    assert checkout[0].spec["Metrics"][0]["MetricStat"]["Period"] == 60
    assert checkout[1].spec["Metrics"][0]["MetricStat"]["Period"] == 10
    assert checkout[0].spec["Metrics"][2]["Expression"].endswith("/ 0.01, 0)")
    assert "[warning]" in checkout[2].spec["AlarmDescription"]


def test_namespace_is_configurable(rules: RuleFile) -> None:
    items = burn_rate_alarms(SCOPE, TOPIC, rules, namespace="Orders/App")
    assert items[0].spec["Metrics"][0]["MetricStat"]["Metric"]["Namespace"] == "Orders/App"


@pytest.mark.parametrize(
    ("window", "period", "periods"),
    [
        (3, 10, 1),
        (20, 20, 1),
        (36, 60, 1),
        (300, 300, 1),
        (3600, 3600, 1),
        (5400, 5400, 1),
        (86400, 86400, 1),
        (3 * 86400, 86400, 3),
        (1.5 * 86400, 86400, 2),
    ],
)
def test_evaluation_periods(window: float, period: int, periods: int) -> None:
    ev = evaluation(window)
    assert (ev.period, ev.periods) == (period, periods)
    assert ev.exact is (periods == 1)


@pytest.mark.parametrize(
    ("seconds", "label"), [(300, "5m"), (3600, "1h"), (259200, "3d"), (36, "36s"), (90, "90s")]
)
def test_window_labels(seconds: float, label: str) -> None:
    assert window_label(seconds) == label


def test_slug_and_expression() -> None:
    assert slug("Checkout.Fast_burn:v2") == "checkout-fast-burn-v2"
    assert slug("...") == "rule"
    assert burn_expression(0.0001) == "IF(total > 0, (1 - good / total) / 0.0001, 0)"


def test_dimension_sets_the_emf_output_must_carry(rules: RuleFile) -> None:
    assert dimension_sets(rules) == {
        "checkout.all": ((),),
        "checkout.ok": ((),),
        "http.requests": (("outcome", "service"), ("service",)),
    }

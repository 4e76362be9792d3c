"""The desired AWS observability resources: dashboards, queries, alarms, X-Ray, App Insights."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ial_resilience.aws.obs_alarms import alarms
from ial_resilience.aws.obs_dashboards import dashboards
from ial_resilience.aws.obs_desired import desired_state
from ial_resilience.aws.obs_model import AlarmKind, Desired, Kind, logical_id
from ial_resilience.aws.obs_queries import query_definitions
from ial_resilience.aws.obs_scope import Scope
from ial_resilience.aws.obs_xray import application_insights, groups, sampling_rules
from ial_resilience.errors import InputError

SCOPE = Scope.for_environment("prod", "eu-west-1").with_email("ops@example.com")
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ialr-prod-alarms"


def _widgets(item: Desired) -> list[dict[str, Any]]:
    return list(json.loads(item.spec["DashboardBody"])["widgets"])


def _text(item: Desired) -> str:
    return json.dumps(item.spec)


def test_three_dashboards_named_after_the_environment() -> None:
    names = [d.name for d in dashboards(SCOPE)]
    assert names == ["ialr-prod-operations", "ialr-prod-chaos", "ialr-prod-resilience"]


def test_operations_dashboard_has_the_plans_widgets() -> None:
    operations = dashboards(SCOPE)[0]
    titles = [w["properties"]["title"] for w in _widgets(operations)]
    assert titles[:7] == [
        "ALB 5xx",
        "ALB latency p95/p99",
        "ECS running tasks",
        "ECS CPU",
        "Aurora connections",
        "Aurora replica lag",
        "DynamoDB throttles",
    ]
    latency = _widgets(operations)[1]["properties"]["metrics"]
    assert [line[-1]["stat"] for line in latency] == ["p95", "p99"]
    assert latency[0][:4] == [
        "AWS/ApplicationELB",
        "TargetResponseTime",
        "LoadBalancer",
        SCOPE.load_balancer,
    ]
    assert all(w["properties"]["region"] == "eu-west-1" for w in _widgets(operations))


def _expressions(item: Desired) -> list[str]:
    return [
        line[0]["expression"]
        for widget in _widgets(item)
        for line in widget["properties"]["metrics"]
        if isinstance(line[0], dict)
    ]


def test_custom_namespaces_are_summed_over_their_dimensions() -> None:
    operations, chaos, resilience = dashboards(SCOPE)
    assert (
        """SUM(SEARCH('Namespace="IaL/Business" MetricName="deployment.failed"', 'Sum', 60))"""
        in _expressions(operations)
    )
    assert all('Namespace="IaL/Chaos"' in e for e in _expressions(chaos))
    assert any('MetricName="recovery.rto_seconds"' in e for e in _expressions(resilience))
    assert "NumberOfBackupJobsFailed" in _text(resilience)


def test_widgets_are_laid_out_without_overlap() -> None:
    for dashboard in dashboards(SCOPE):
        cells = [(w["x"], w["y"]) for w in _widgets(dashboard)]
        assert len(set(cells)) == len(cells)
        assert all(w["x"] + w["width"] <= 24 for w in _widgets(dashboard))


def test_four_insights_queries_over_the_application_log_group() -> None:
    queries = query_definitions(SCOPE)
    assert [q.key for q in queries] == [
        "error-rate",
        "latency-percentiles",
        "failed-deployments",
        "chaos-events",
    ]
    assert all(q.spec["logGroupNames"] == ["/ialr/prod/app"] for q in queries)
    assert "pct(duration_ms, 99)" in queries[1].spec["queryString"]
    assert "deployment.failed" in queries[2].spec["queryString"]


def test_static_alarm_spec_is_put_metric_alarm_arguments() -> None:
    five_xx = next(a for a in alarms(SCOPE, TOPIC) if a.key == "alb-5xx")
    assert five_xx.alarm_kind is AlarmKind.STATIC
    assert five_xx.spec["Dimensions"] == [{"Name": "LoadBalancer", "Value": SCOPE.load_balancer}]
    assert five_xx.spec["Threshold"] == 10.0
    assert five_xx.spec["AlarmActions"] == [TOPIC] and five_xx.spec["OKActions"] == [TOPIC]
    p99 = next(a for a in alarms(SCOPE, TOPIC) if a.key == "alb-latency-p99")
    assert p99.spec["ExtendedStatistic"] == "p99" and "Statistic" not in p99.spec


def test_anomaly_alarm_compares_with_the_band() -> None:
    anomaly = next(a for a in alarms(SCOPE, TOPIC) if a.key == "alb-requests-anomaly")
    assert anomaly.alarm_kind is AlarmKind.ANOMALY
    band = anomaly.spec["Metrics"][1]
    assert band["Expression"] == "ANOMALY_DETECTION_BAND(m1, 2)"
    assert anomaly.spec["ThresholdMetricId"] == band["Id"]
    assert anomaly.spec["ComparisonOperator"] == "LessThanLowerOrGreaterThanUpperThreshold"


def test_composite_alarm_names_its_children_and_pages() -> None:
    composite = next(a for a in alarms(SCOPE, TOPIC) if a.kind is Kind.COMPOSITE_ALARM)
    assert composite.spec["AlarmRule"] == (
        'ALARM("ialr-prod-alb-5xx") AND (ALARM("ialr-prod-alb-latency-p99") OR '
        'ALARM("ialr-prod-ecs-running-low"))'
    )
    assert composite.depends_on == ("alb-5xx", "alb-latency-p99", "ecs-running-low")
    assert composite.spec["AlarmActions"] == [TOPIC]


def test_deployment_failures_alarm_on_a_metrics_insights_query() -> None:
    failed = next(a for a in alarms(SCOPE, TOPIC) if a.key == "deployments-failed")
    query = failed.spec["Metrics"][0]["Expression"]
    assert query == 'SELECT SUM("deployment.failed") FROM "IaL/Business"'


def test_xray_names_fit_the_32_character_limit_for_the_longest_environment() -> None:
    longest = Scope.for_environment("a" * 16)
    names = [item.name for item in (*sampling_rules(longest), *groups(longest))]
    assert names and all(len(name) <= 32 for name in names)
    health = sampling_rules(SCOPE)[0].spec
    assert (health["URLPath"], health["FixedRate"], health["Priority"]) == ("/health*", 0.0, 100)


@pytest.mark.parametrize("bad", ["", "Prod", "9lives", "a" * 17, "has space"])
def test_environment_names_are_checked(bad: str) -> None:
    with pytest.raises(InputError, match="environment"):
        Scope.for_environment(bad)


def test_application_insights_watches_the_resource_group() -> None:
    app = application_insights(SCOPE)
    assert app.spec["ResourceGroupName"] == "ialr-prod-resources"
    assert app.spec["AutoConfigurationEnabled"] is True


def test_desired_state_is_in_creation_order_with_unique_logical_ids() -> None:
    items = desired_state(SCOPE, TOPIC)
    kinds = [item.kind for item in items]
    assert kinds == sorted(kinds, key=list(Kind).index)
    assert kinds[:2] == [Kind.TOPIC, Kind.SUBSCRIPTION]
    ids = [logical_id(item) for item in items]
    assert len(set(ids)) == len(ids)
    assert logical_id(items[-1]) == "AppApplicationInsights"


def test_no_subscription_without_an_email() -> None:
    items = desired_state(Scope.for_environment("dev"), TOPIC)
    assert Kind.SUBSCRIPTION not in {item.kind for item in items}


def test_keys_must_be_slugs() -> None:
    with pytest.raises(ValueError, match="dash-separated"):
        Desired(Kind.ALARM, "no spaces", "n", {})

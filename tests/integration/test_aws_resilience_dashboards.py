"""``ialr dashboard --aws-setup``: the dashboard's three views as CloudWatch dashboards, put
into the session's moto server over HTTP (and a dry run that puts nothing)."""

from __future__ import annotations

import json
import socket
import uuid

import pytest

from ial_resilience.aws._session import AwsTarget, client
from ial_resilience.aws.obs_scope import CHAOS_NAMESPACE, RESILIENCE_NAMESPACE
from ial_resilience.aws.resilience_dashboards import (
    KPI_NAMES,
    chaos_monitoring_body,
    insights_body,
    resilience_scoring_body,
)
from ial_resilience.cli.main import main
from tests.aws_fixtures import aws_env, moto_endpoint  # noqa: F401

pytestmark = pytest.mark.aws
VIEWS = ("chaos-monitoring", "resilience-scoring", "insights")


def _expressions(body: str) -> list[str]:
    widgets = json.loads(body)["widgets"]
    return [m[0]["expression"] for w in widgets for m in w["properties"]["metrics"]]


def test_bodies_search_the_history_metrics_per_view() -> None:
    chaos = _expressions(chaos_monitoring_body("eu-west-1"))
    assert any(f'Namespace="{CHAOS_NAMESPACE}" MetricName="chaos.passed"' in e for e in chaos)
    assert any('MetricName="chaos.time_to_recover"' in e for e in chaos)
    scoring = _expressions(resilience_scoring_body("eu-west-1"))
    assert any(
        f'Namespace="{RESILIENCE_NAMESPACE}" MetricName="resilience.score"' in e for e in scoring
    )
    insights = " ".join(_expressions(insights_body("eu-west-1")))
    assert all(f'MetricName="kpi.{name}"' in insights for name in KPI_NAMES)
    assert 'MetricName="analysis.regressions"' in insights
    layout = json.loads(insights_body("eu-west-1"))["widgets"]
    assert {w["properties"]["region"] for w in layout} == {"eu-west-1"}
    assert [(w["x"], w["y"]) for w in layout] == [(0, 0), (12, 0), (0, 6), (12, 6)]


def test_aws_setup_puts_three_dashboards_and_dry_run_puts_none(
    aws_env: AwsTarget,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    environment = "d" + uuid.uuid4().hex[:8]
    endpoint = ["--endpoint-url", str(aws_env.endpoint_url), "--environment", environment]
    names = [f"ialr-{environment}-{view}" for view in VIEWS]
    cloudwatch = client("cloudwatch", aws_env)

    def present() -> set[str]:
        entries = cloudwatch.list_dashboards(DashboardNamePrefix=f"ialr-{environment}")
        return {e["DashboardName"] for e in entries["DashboardEntries"]}

    assert main(["dashboard", "--aws-setup", "--dry-run", "--json", *endpoint]) == 0
    planned = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in planned["dashboards"]] == names
    assert not any(d["put"] for d in planned["dashboards"]) and present() == set()

    assert main(["dashboard", "--aws-setup", *endpoint]) == 0
    out = capsys.readouterr().out
    assert all(f"put dashboard {name} (4 widgets)" in out for name in names)
    assert present() == set(names)
    body = cloudwatch.get_dashboard(DashboardName=names[1])["DashboardBody"]
    assert body == resilience_scoring_body(aws_env.region or "us-east-1")


def test_aws_setup_rejects_a_bad_environment_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--aws-setup", "--dry-run", "--environment", "Bad_Name"]) == 3
    assert "environment 'Bad_Name' is not a valid name" in capsys.readouterr().err


def test_aws_setup_with_nothing_at_the_endpoint_is_a_provider_error(
    aws_env: AwsTarget,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        assert main(["dashboard", "--aws-setup", "--endpoint-url", f"http://127.0.0.1:{port}"]) == 5
    assert "put dashboard ialr-prod-chaos-monitoring" in capsys.readouterr().err

"""``ialr observe setup --aws`` against a moto server over HTTP: created, idempotent, dry run,
drift repaired, metrics from EMF and PutMetricData visible, credentials missing.

moto 5.2.5 lacks PutCompositeAlarm, the Logs query-definition APIs, X-Ray sampling rules and
groups, and Application Insights: those kinds must come back ``unsupported`` with a note (the
00c phase creates them on AWS; their read/compare/write logic is covered by
tests/unit/test_aws_obs_setup.py).
"""

from __future__ import annotations

import io
import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ial_resilience.alerting.rules import load_rules
from ial_resilience.aws import observability
from ial_resilience.aws._session import AwsCredentialsError, AwsTarget, client
from ial_resilience.aws.obs_alarms import alarms
from ial_resilience.aws.obs_dashboards import dashboards
from ial_resilience.aws.obs_desired import desired_state
from ial_resilience.aws.obs_model import Kind
from ial_resilience.aws.obs_scope import BUSINESS_NAMESPACE, DEPLOYMENTS_FAILED, ROLLBACKS, Scope
from ial_resilience.aws.obs_setup import Action, SetupReport
from ial_resilience.cli.main import main
from ial_resilience.observability import metrics, recorders
from ial_resilience.observability.metrics import Kind as MetricKind
from ial_resilience.observability.metrics import emf_document
from tests.aws_fixtures import aws_env, moto_endpoint  # noqa: F401

pytestmark = pytest.mark.aws
UNSUPPORTED_BY_MOTO = {
    Kind.COMPOSITE_ALARM,
    Kind.QUERY,
    Kind.SAMPLING_RULE,
    Kind.XRAY_GROUP,
    Kind.APP_INSIGHTS,
}


@pytest.fixture
def scope() -> Scope:
    """A fresh environment name per test: its resources share nothing with other tests."""
    return Scope.for_environment(f"t{uuid.uuid4().hex[:8]}").with_email("ops@example.com")


def _alarms(target: AwsTarget, scope: Scope) -> dict[str, dict[str, Any]]:
    found = client("cloudwatch", target).describe_alarms(AlarmNamePrefix=scope.prefix)
    return {a["AlarmName"]: a for a in found["MetricAlarms"]}


def _dashboards(target: AwsTarget, scope: Scope) -> list[str]:
    listed = client("cloudwatch", target).list_dashboards(DashboardNamePrefix=scope.prefix)
    return sorted(entry["DashboardName"] for entry in listed["DashboardEntries"])


def _topic_arn(target: AwsTarget, scope: Scope) -> str | None:
    topics = client("sns", target).list_topics()["Topics"]
    return next(
        (t["TopicArn"] for t in topics if t["TopicArn"].endswith(scope.name("alarms"))), None
    )


def _by_action(report: SetupReport) -> dict[Action, set[Kind]]:
    grouped: dict[Action, set[Kind]] = {}
    for change in report.changes:
        grouped.setdefault(change.action, set()).add(change.kind)
    return grouped


def test_dry_run_lists_the_plan_and_creates_nothing(aws_env: AwsTarget, scope: Scope) -> None:  # noqa: F811
    report = observability.setup(aws_env, scope, dry_run=True)
    assert report.dry_run and report.changed
    assert _by_action(report)[Action.CREATE] >= {Kind.TOPIC, Kind.DASHBOARD, Kind.ALARM}
    assert report.summary().startswith("would create ")
    assert _alarms(aws_env, scope) == {}
    assert _dashboards(aws_env, scope) == []
    assert _topic_arn(aws_env, scope) is None


def test_setup_creates_everything_moto_supports_then_changes_nothing(
    aws_env: AwsTarget,  # noqa: F811
    scope: Scope,
) -> None:
    first = observability.setup(aws_env, scope)
    assert _by_action(first)[Action.CREATE] == {
        Kind.TOPIC,
        Kind.SUBSCRIPTION,
        Kind.DASHBOARD,
        Kind.ALARM,
    }
    assert _by_action(first)[Action.UNSUPPORTED] == UNSUPPORTED_BY_MOTO
    note = next(c.detail for c in first.changes if c.action is Action.UNSUPPORTED)
    assert "does not implement this API" in note and "00c phase" in note

    topic_arn = _topic_arn(aws_env, scope)
    assert topic_arn is not None
    subs = client("sns", aws_env).list_subscriptions_by_topic(TopicArn=topic_arn)
    assert [(s["Protocol"], s["Endpoint"]) for s in subs["Subscriptions"]] == [
        ("email", "ops@example.com"),
    ]
    assert _dashboards(aws_env, scope) == [
        scope.name(k) for k in ("chaos", "operations", "resilience")
    ]
    alarms = _alarms(aws_env, scope)
    assert alarms[scope.name("alb-5xx")]["AlarmActions"] == [topic_arn]
    anomaly = alarms[scope.name("alb-requests-anomaly")]
    assert anomaly["ThresholdMetricId"] == "band"
    burn = alarms[scope.name("slo-api-availability-1h-5m-long")]
    assert burn["Threshold"] == 14.4
    assert [m["Id"] for m in burn["Metrics"]] == ["good", "total", "burn"]

    second = observability.setup(aws_env, scope)
    assert not second.changed
    assert second.count(Action.UNCHANGED) == first.count(Action.CREATE)
    assert second.summary().startswith("nothing to change: ")


def test_drift_is_repaired_and_only_drift(aws_env: AwsTarget, scope: Scope) -> None:  # noqa: F811
    observability.setup(aws_env, scope)
    cloudwatch = client("cloudwatch", aws_env)
    cloudwatch.put_dashboard(DashboardName=scope.name("chaos"), DashboardBody='{"widgets":[]}')
    alarm = _alarms(aws_env, scope)[scope.name("ecs-cpu-high")]
    cloudwatch.put_metric_alarm(
        AlarmName=alarm["AlarmName"],
        Namespace=alarm["Namespace"],
        MetricName=alarm["MetricName"],
        Dimensions=alarm["Dimensions"],
        Statistic="Average",
        Period=60,
        EvaluationPeriods=5,
        DatapointsToAlarm=5,
        Threshold=99.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    repaired = observability.setup(aws_env, scope)
    updated = [(c.kind, c.name) for c in repaired.changes if c.action is Action.UPDATE]
    assert updated == [
        (Kind.DASHBOARD, scope.name("chaos")),
        (Kind.ALARM, scope.name("ecs-cpu-high")),
    ]
    assert _alarms(aws_env, scope)[scope.name("ecs-cpu-high")]["Threshold"] == 85.0
    assert not observability.setup(aws_env, scope).changed


def test_rule_file_burn_rate_rules_become_alarms(
    aws_env: AwsTarget,  # noqa: F811
    scope: Scope,
    tmp_path: Path,
) -> None:
    rules = tmp_path / "alerts.yaml"
    rules.write_text(
        "version: 1\nrules:\n  - name: checkout-slo\n    kind: burn_rate\n    objective: 0.99\n"
        "    good: {metric: checkout.ok}\n    total: {metric: checkout.all}\n"
        "    windows: [{long: 2h, short: 10m, factor: 5}]\n"
    )
    observability.setup(aws_env, scope, load_rules(rules), namespace="Shop/App")
    alarms = _alarms(aws_env, scope)
    long = alarms[scope.name("slo-checkout-slo-2h-10m-long")]
    assert long["Metrics"][0]["MetricStat"]["Metric"]["Namespace"] == "Shop/App"
    assert long["Metrics"][0]["MetricStat"]["Period"] == 7200
    assert scope.name("slo-api-availability-1h-5m-long") not in alarms  # the file replaces it


def _cli(capsys: pytest.CaptureFixture[str], target: AwsTarget, *args: str) -> tuple[int, str]:
    code = main([*args, "--endpoint-url", str(target.endpoint_url), "--region", "us-east-1"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_cli_setup_dry_run_then_setup_then_nothing_to_change(
    aws_env: AwsTarget,  # noqa: F811
    scope: Scope,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = ["--environment", scope.environment]
    code, out = _cli(capsys, aws_env, "observe", "setup", "--aws", "--dry-run", *env)
    assert code == 0 and "dry run: would create " in out
    assert "note: application-insights: " in out and "does not implement this API" in out
    code = main(
        ["observe", "setup", "--aws", "--json", *env, "--endpoint-url", str(aws_env.endpoint_url)]
    )
    out = capsys.readouterr().out  # moto prints a line for the API it lacks: skip to the JSON
    report = json.loads(out[out.index('{\n  "target"') :])
    assert code == 0 and report["changed"] and report["counts"]["create"] > 0
    assert {c["kind"] for c in report["changes"] if c["action"] == "unsupported"} == {
        kind.value for kind in UNSUPPORTED_BY_MOTO
    }
    code, out = _cli(capsys, aws_env, "observe", "setup", "--aws", *env)
    assert code == 0 and "nothing to change: " in out


def test_cli_setup_without_aws_or_with_a_bad_rule_file(
    aws_env: AwsTarget,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    code, out = _cli(capsys, aws_env, "observe", "setup")
    assert code == 3 and "pass --aws" in out
    bad = tmp_path / "alerts.yaml"
    bad.write_text("version: 1\nrules:\n  - name: x\n    kind: burn_rate\n    objective: 2\n")
    code, out = _cli(capsys, aws_env, "observe", "setup", "--aws", "--rules", str(bad))
    assert code == 3 and f"{bad}:5" in out


def test_missing_credentials_name_what_to_set(
    aws_env: AwsTarget,  # noqa: F811
    scope: Scope,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(AwsCredentialsError, match="no usable AWS credentials"):
        observability.setup(aws_env, scope, dry_run=True)
    code, out = _cli(capsys, aws_env, "observe", "setup", "--aws", "--dry-run")
    assert code == 5 and "AWS_ACCESS_KEY_ID" in out and "AWS_PROFILE" in out


def _sum(target: AwsTarget, namespace: str, name: str, dims: list[dict[str, str]]) -> float:
    now = datetime.now(UTC)
    answer = client("cloudwatch", target).get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {"Namespace": namespace, "MetricName": name, "Dimensions": dims},
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(minutes=5),
    )
    return float(sum(answer["MetricDataResults"][0]["Values"]))


def test_emf_lines_and_put_metric_data_are_visible(
    aws_env: AwsTarget,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    namespace = f"IaL/Test{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC).timestamp()
    lines = [
        json.dumps(
            emf_document(
                namespace, MetricKind.COUNT, "deployment.failed", 1, {"stack": "orders"}, now
            )
        )
        for _ in range(3)
    ]
    assert observability.put_emf(aws_env, lines) == 3
    path = tmp_path / "app.log"
    path.write_text("\n".join(lines[:2]) + "\n\n")
    code, out = _cli(capsys, aws_env, "observe", "put-emf", str(path))
    assert code == 0 and "published 2 metric datum(s)" in out

    listed = client("cloudwatch", aws_env).list_metrics(Namespace=namespace)["Metrics"]
    assert [(m["MetricName"], m["Dimensions"]) for m in listed][:1] == [
        ("deployment.failed", [{"Name": "stack", "Value": "orders"}]),
    ]
    assert (
        _sum(aws_env, namespace, "deployment.failed", [{"Name": "stack", "Value": "orders"}]) == 5
    )

    client("cloudwatch", aws_env).put_metric_data(
        Namespace=namespace,
        MetricData=[{"MetricName": "recovery.rto_seconds", "Value": 42.0, "Unit": "Seconds"}],
    )
    assert _sum(aws_env, namespace, "recovery.rto_seconds", []) == 42.0


def test_put_emf_with_a_bad_line_names_it(
    aws_env: AwsTarget,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "app.log"
    path.write_text('{"_aws": {"Timestamp": 1, "CloudWatchMetrics": []}}\nnot json\n')
    code, out = _cli(capsys, aws_env, "observe", "put-emf", str(path))
    assert code == 3 and "EMF line 2: not an EMF document: invalid JSON" in out
    code, out = _cli(capsys, aws_env, "observe", "put-emf", str(tmp_path / "missing.log"))
    assert code == 3 and "cannot read" in out


def test_cli_names_replace_the_derived_defaults(
    aws_env: AwsTarget,  # noqa: F811
    scope: Scope,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = _cli(
        capsys,
        aws_env,
        "observe",
        "setup",
        "--aws",
        "--environment",
        scope.environment,
        "--load-balancer",
        "app/shop/abc123",
        "--ecs-cluster",
        "shop",
        "--ecs-service",
        "web",
    )
    assert code == 0, out
    alarms = _alarms(aws_env, scope)
    assert alarms[scope.name("alb-5xx")]["Dimensions"] == [
        {"Name": "LoadBalancer", "Value": "app/shop/abc123"}
    ]
    assert {"Name": "ServiceName", "Value": "web"} in alarms[scope.name("ecs-cpu-high")][
        "Dimensions"
    ]


def test_put_emf_reads_stdin(
    aws_env: AwsTarget,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    namespace = f"IaL/Stdin{uuid.uuid4().hex[:6]}"
    line = json.dumps(
        emf_document(namespace, MetricKind.GAUGE, "resilience.score", 87.5, {}, time.time())
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(line + "\n"))
    code, out = _cli(capsys, aws_env, "observe", "put-emf", "-")
    assert code == 0 and "published 1 metric datum(s)" in out
    assert _sum(aws_env, namespace, "resilience.score", []) == 87.5


@pytest.fixture
def emf_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    metrics.setup_metrics(sinks=("emf",), namespace=BUSINESS_NAMESPACE, emf_stream=stream)
    try:
        yield stream
    finally:
        metrics.shutdown_metrics()


def test_recorder_output_lands_where_dashboards_and_alarms_look(
    aws_env: AwsTarget,  # noqa: F811
    scope: Scope,
    emf_stream: io.StringIO,
) -> None:
    stack = f"orders-{uuid.uuid4().hex[:6]}"  # moto 5.2.5 ignores the namespace when a
    # GetMetricData query has dimensions: unique values keep other tests' data out
    recorders.deployment(stack, recorders.DeploymentStatus.FAILED)
    recorders.deployment("payments", recorders.DeploymentStatus.FAILED)
    recorders.rollback(stack, "alarm")
    lines = emf_stream.getvalue().splitlines()
    assert observability.put_emf(aws_env, lines) == 3

    listed = client("cloudwatch", aws_env).list_metrics(Namespace=BUSINESS_NAMESPACE)["Metrics"]
    emitted = {m["MetricName"] for m in listed}
    assert {DEPLOYMENTS_FAILED, ROLLBACKS} <= emitted
    operations = next(d for d in dashboards(scope) if d.key == "operations")
    read = set(re.findall(r'MetricName=\\"([^\\]+)\\"', operations.spec["DashboardBody"]))
    assert {DEPLOYMENTS_FAILED, ROLLBACKS} <= read
    failed = next(a for a in alarms(scope, "arn") if a.key == "deployments-failed")
    query = failed.spec["Metrics"][0]["Expression"]
    assert query == f'SELECT SUM("{DEPLOYMENTS_FAILED}") FROM "{BUSINESS_NAMESPACE}"'
    orders = [{"Name": "stack", "Value": stack}]
    assert _sum(aws_env, BUSINESS_NAMESPACE, DEPLOYMENTS_FAILED, orders) == 1


def test_slo_alarm_series_exist_after_emf_with_rollups(
    aws_env: AwsTarget,  # noqa: F811
    scope: Scope,
    emf_stream: io.StringIO,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    service = f"api-{uuid.uuid4().hex[:6]}"  # unique: see the moto note above
    for outcome in ("ok", "ok", "ok", "error"):
        metrics.count("http.requests", service=service, outcome=outcome)
    path = tmp_path / "app.log"
    path.write_text(emf_stream.getvalue())
    rules = tmp_path / "alerts.yaml"
    rules.write_text(
        "version: 1\nrules:\n  - name: api-availability\n    kind: burn_rate\n"
        "    objective: 0.999\n"
        f"    good: {{metric: http.requests, where: {{service: {service}, outcome: ok}}}}\n"
        f"    total: {{metric: http.requests, where: {{service: {service}}}}}\n"
    )
    code, out = _cli(capsys, aws_env, "observe", "put-emf", str(path), "--rules", str(rules))
    assert code == 0 and "published 8 metric datum(s)" in out  # 4 points + 4 rolled up

    compiled = desired_state(scope, "arn", load_rules(rules))
    long = next(a for a in compiled if a.key.endswith("1h-5m-long"))
    good, total = (q["MetricStat"]["Metric"] for q in long.spec["Metrics"][:2])
    assert _sum(aws_env, good["Namespace"], good["MetricName"], good["Dimensions"]) == 3
    assert _sum(aws_env, total["Namespace"], total["MetricName"], total["Dimensions"]) == 4

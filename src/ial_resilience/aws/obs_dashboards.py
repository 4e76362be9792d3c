"""The three CloudWatch dashboards (operations, chaos, resilience), generated from code.

A dashboard is a list of metric widgets laid out two per row; the body is the JSON document
``PutDashboard`` takes (``json.dumps`` with sorted keys, so equal dashboards have equal bodies).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ial_resilience.aws.obs_model import Desired, Kind
from ial_resilience.aws.obs_scope import (
    BUSINESS_NAMESPACE,
    CHAOS_NAMESPACE,
    CHAOS_RESULTS,
    DATA_LOSS_WINDOW,
    DEPLOYMENTS_FAILED,
    DEPLOYMENTS_STARTED,
    DEPLOYMENTS_SUCCEEDED,
    GUARDRAIL_ABORTS,
    RECOVERY_TIME,
    RESILIENCE_NAMESPACE,
    RESILIENCE_SCORE,
    ROLLBACKS,
    TIME_TO_RECOVER,
    VALIDATIONS_FAILED,
    Scope,
)

WIDTH, HEIGHT, PER_ROW = 12, 6, 2


@dataclass(frozen=True)
class Line:
    """One metric line: namespace, metric, dimensions, statistic (``p99`` allowed)."""

    namespace: str
    metric: str
    stat: str = "Sum"
    dimensions: tuple[tuple[str, str], ...] = ()
    label: str = ""

    def as_widget_metric(self) -> list[Any]:
        flat: list[Any] = [self.namespace, self.metric]
        for name, value in self.dimensions:
            flat += [name, value]
        options: dict[str, Any] = {"stat": self.stat}
        if self.label:
            options["label"] = self.label
        return [*flat, options]


@dataclass(frozen=True)
class Summed:
    """Every series of a custom metric, whatever its dimensions, summed into one line
    (``SUM(SEARCH(...))``): recorders emit one series per stack, check or experiment."""

    namespace: str
    metric: str
    stat: str = "Sum"
    label: str = ""

    def as_widget_metric(self, index: int, period: int) -> list[Any]:
        search = f'SEARCH(\'Namespace="{self.namespace}" MetricName="{self.metric}"\', '
        expression = f"SUM({search}'{self.stat}', {period}))"
        return [{"expression": expression, "label": self.label or self.metric, "id": f"e{index}"}]


@dataclass(frozen=True)
class Widget:
    title: str
    lines: tuple[Line | Summed, ...]
    period: int = 60
    view: str = "timeSeries"


def _metric(line: Line | Summed, index: int, period: int) -> list[Any]:
    if isinstance(line, Summed):
        return line.as_widget_metric(index, period)
    return line.as_widget_metric()


def _body(widgets: tuple[Widget, ...], region: str) -> str:
    laid_out = []
    for index, widget in enumerate(widgets):
        laid_out.append(
            {
                "type": "metric",
                "x": (index % PER_ROW) * WIDTH,
                "y": (index // PER_ROW) * HEIGHT,
                "width": WIDTH,
                "height": HEIGHT,
                "properties": {
                    "title": widget.title,
                    "region": region,
                    "view": widget.view,
                    "period": widget.period,
                    "metrics": [
                        _metric(line, i, widget.period) for i, line in enumerate(widget.lines)
                    ],
                },
            }
        )
    return json.dumps({"widgets": laid_out}, sort_keys=True, separators=(",", ":"))


def operations_widgets(scope: Scope) -> tuple[Widget, ...]:
    alb = (("LoadBalancer", scope.load_balancer),)
    ecs = (("ClusterName", scope.ecs_cluster), ("ServiceName", scope.ecs_service))
    aurora = (("DBClusterIdentifier", scope.aurora_cluster),)
    table = (("TableName", scope.dynamodb_table),)
    elb = "AWS/ApplicationELB"
    return (
        Widget(
            "ALB 5xx",
            (
                Line(elb, "HTTPCode_ELB_5XX_Count", dimensions=alb),
                Line(elb, "HTTPCode_Target_5XX_Count", dimensions=alb),
            ),
        ),
        Widget(
            "ALB latency p95/p99",
            (
                Line(elb, "TargetResponseTime", "p95", alb, "p95"),
                Line(elb, "TargetResponseTime", "p99", alb, "p99"),
            ),
        ),
        Widget(
            "ECS running tasks",
            (Line("ECS/ContainerInsights", "RunningTaskCount", "Average", ecs),),
        ),
        Widget("ECS CPU", (Line("AWS/ECS", "CPUUtilization", "Average", ecs),)),
        Widget("Aurora connections", (Line("AWS/RDS", "DatabaseConnections", "Average", aurora),)),
        Widget("Aurora replica lag", (Line("AWS/RDS", "AuroraReplicaLag", "Maximum", aurora),)),
        Widget(
            "DynamoDB throttles",
            (
                Line("AWS/DynamoDB", "ReadThrottleEvents", dimensions=table),
                Line("AWS/DynamoDB", "WriteThrottleEvents", dimensions=table),
            ),
        ),
        Widget(
            "Deployments (IaL/Business)",
            tuple(
                Summed(BUSINESS_NAMESPACE, name)
                for name in (
                    DEPLOYMENTS_STARTED,
                    DEPLOYMENTS_SUCCEEDED,
                    DEPLOYMENTS_FAILED,
                    ROLLBACKS,
                    VALIDATIONS_FAILED,
                )
            ),
        ),
    )


def chaos_run_widgets() -> tuple[Widget, ...]:
    """What the chaos runs report (IaL/Chaos): results by status, time to recover, aborts."""
    return (
        Widget(
            "Experiment results (IaL/Chaos)",
            tuple(Summed(CHAOS_NAMESPACE, f"chaos.{r}", label=r) for r in CHAOS_RESULTS),
            period=3600,
        ),
        Widget(
            "Time to recover (ms)",
            (
                Summed(CHAOS_NAMESPACE, TIME_TO_RECOVER, "Average", "mean"),
                Summed(CHAOS_NAMESPACE, TIME_TO_RECOVER, "Maximum", "max"),
            ),
            period=3600,
        ),
        Widget("Guardrail aborts", (Summed(CHAOS_NAMESPACE, GUARDRAIL_ABORTS),), period=3600),
    )


def chaos_widgets(scope: Scope) -> tuple[Widget, ...]:
    return (
        *chaos_run_widgets(),
        Widget(
            "ALB 5xx during experiments",
            (
                Line(
                    "AWS/ApplicationELB",
                    "HTTPCode_Target_5XX_Count",
                    dimensions=(("LoadBalancer", scope.load_balancer),),
                ),
            ),
        ),
    )


def resilience_widgets(scope: Scope) -> tuple[Widget, ...]:
    return (
        Widget(
            "Backup jobs",
            (
                Line("AWS/Backup", "NumberOfBackupJobsCompleted", label="completed"),
                Line("AWS/Backup", "NumberOfBackupJobsFailed", label="failed"),
            ),
            period=86400,
        ),
        Widget(
            "Recovery time (RTO) and data-loss window (RPO)",
            (
                Summed(RESILIENCE_NAMESPACE, RECOVERY_TIME, "Maximum", "RTO s"),
                Summed(RESILIENCE_NAMESPACE, DATA_LOSS_WINDOW, "Maximum", "RPO s"),
            ),
            period=86400,
        ),
        Widget(
            "Resilience score",
            (Summed(RESILIENCE_NAMESPACE, RESILIENCE_SCORE, "Average"),),
            period=86400,
        ),
        Widget(
            "DynamoDB restore target throttles",
            (
                Line(
                    "AWS/DynamoDB",
                    "WriteThrottleEvents",
                    dimensions=(("TableName", scope.dynamodb_table),),
                ),
            ),
        ),
    )


def dashboards(scope: Scope) -> tuple[Desired, ...]:
    """The operations, chaos and resilience dashboards for ``scope``."""
    return tuple(
        Desired(
            Kind.DASHBOARD,
            key,
            scope.name(key),
            {"DashboardName": scope.name(key), "DashboardBody": _body(build(scope), scope.region)},
        )
        for key, build in (
            ("operations", operations_widgets),
            ("chaos", chaos_widgets),
            ("resilience", resilience_widgets),
        )
    )

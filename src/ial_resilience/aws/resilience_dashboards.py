"""The dashboard's three views as CloudWatch dashboards, from code.

Same views as ``ialr dashboard`` (chaos monitoring, resilience scoring, insights), drawn from
the metrics the history publishes to CloudWatch (INTERFACES §8) with the widget helpers of
:mod:`ial_resilience.aws.obs_dashboards`. Each ``*_body`` returns the ``DashboardBody`` JSON
``PutDashboard`` takes; :func:`put_dashboards` puts the three (``ialr dashboard --aws-setup``).

Metrics read (``Summed``: every series of the name, whatever its dimensions):

* ``IaL/Chaos``: ``chaos.passed|deviated|aborted`` (count per run status),
  ``chaos.time_to_recover`` (ms), ``chaos.aborted`` (guardrail aborts).
* ``IaL/Resilience``: ``resilience.score`` (0–100), ``recovery.rto_seconds``,
  ``recovery.rpo_seconds``, and one ``kpi.<name>`` per KPI of the scorecard
  (``uptime``, ``mttr``, ``chaos_pass_rate``, …) plus ``analysis.regressions`` and
  ``analysis.recommendations`` (counts of the analyzer's findings).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ial_resilience.aws._session import AwsTarget, aws_call, client
from ial_resilience.aws.obs_dashboards import Summed, Widget, _body, chaos_run_widgets
from ial_resilience.aws.obs_scope import (
    CHAOS_NAMESPACE,
    DATA_LOSS_WINDOW,
    RECOVERY_TIME,
    RESILIENCE_NAMESPACE,
    RESILIENCE_SCORE,
    TIME_TO_RECOVER,
    Scope,
)

DAY = 86400
KPI_NAMES = (
    "uptime",
    "mttr",
    "chaos_pass_rate",
    "alert_accuracy",
    "alert_false_positive_rate",
    "backup_success",
    "recovery_time",
    "rollback_success",
)
REGRESSIONS = "analysis.regressions"
RECOMMENDATIONS = "analysis.recommendations"


def kpi_metric(name: str) -> str:
    return f"kpi.{name}"


def chaos_monitoring_widgets() -> tuple[Widget, ...]:
    return (
        *chaos_run_widgets(),
        Widget(
            "Chaos pass rate (KPI)",
            (Summed(RESILIENCE_NAMESPACE, kpi_metric("chaos_pass_rate"), "Average"),),
            period=DAY,
        ),
    )


def resilience_scoring_widgets() -> tuple[Widget, ...]:
    return (
        Widget(
            "Resilience score (0-100)",
            (
                Summed(RESILIENCE_NAMESPACE, RESILIENCE_SCORE, "Average", "mean"),
                Summed(RESILIENCE_NAMESPACE, RESILIENCE_SCORE, "Minimum", "min"),
            ),
            period=DAY,
        ),
        Widget(
            "Resilience score (latest)",
            (Summed(RESILIENCE_NAMESPACE, RESILIENCE_SCORE, "Average"),),
            period=DAY,
            view="singleValue",
        ),
        Widget(
            "Recovery time (RTO) and data-loss window (RPO)",
            (
                Summed(RESILIENCE_NAMESPACE, RECOVERY_TIME, "Maximum", "RTO s"),
                Summed(RESILIENCE_NAMESPACE, DATA_LOSS_WINDOW, "Maximum", "RPO s"),
            ),
            period=DAY,
        ),
        Widget(
            "Time to recover (ms)",
            (Summed(CHAOS_NAMESPACE, TIME_TO_RECOVER, "Average", "mean"),),
            period=DAY,
        ),
    )


def insights_widgets() -> tuple[Widget, ...]:
    rates: tuple[str, ...] = ("uptime", "chaos_pass_rate", "alert_accuracy")
    rates += ("alert_false_positive_rate", "backup_success", "rollback_success")
    return (
        Widget(
            "Analyzer findings",
            (
                Summed(RESILIENCE_NAMESPACE, REGRESSIONS, "Maximum", "regressions"),
                Summed(RESILIENCE_NAMESPACE, RECOMMENDATIONS, "Maximum", "recommendations"),
            ),
            period=DAY,
        ),
        Widget(
            "KPI scorecard: rates (0-1)",
            tuple(Summed(RESILIENCE_NAMESPACE, kpi_metric(n), "Average", n) for n in rates),
            period=DAY,
            view="singleValue",
        ),
        Widget(
            "KPI: MTTR and recovery time (s)",
            tuple(
                Summed(RESILIENCE_NAMESPACE, kpi_metric(n), "Average", n)
                for n in ("mttr", "recovery_time")
            ),
            period=DAY,
        ),
        Widget(
            "KPI scorecard over time",
            tuple(Summed(RESILIENCE_NAMESPACE, kpi_metric(n), "Average", n) for n in rates),
            period=DAY,
        ),
    )


def chaos_monitoring_body(region: str) -> str:
    return _body(chaos_monitoring_widgets(), region)


def resilience_scoring_body(region: str) -> str:
    return _body(resilience_scoring_widgets(), region)


def insights_body(region: str) -> str:
    return _body(insights_widgets(), region)


BODIES: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("chaos-monitoring", chaos_monitoring_body),
    ("resilience-scoring", resilience_scoring_body),
    ("insights", insights_body),
)


@dataclass(frozen=True)
class Dashboard:
    name: str
    body: str
    put: bool  # False on a dry run

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "widgets": self.body.count('"type":"metric"'), "put": self.put}


def put_dashboards(target: AwsTarget, scope: Scope, *, dry_run: bool) -> list[Dashboard]:
    """Put (or, on a dry run, only build) the three dashboards, named ``ialr-<env>-<view>``."""
    region = target.region or scope.region
    built = [Dashboard(scope.name(key), body(region), False) for key, body in BODIES]
    if dry_run:
        return built
    cloudwatch = client("cloudwatch", target.in_region(region))
    done = []
    for dashboard in built:
        with aws_call(f"put dashboard {dashboard.name}", target):
            cloudwatch.put_dashboard(DashboardName=dashboard.name, DashboardBody=dashboard.body)
        done.append(Dashboard(dashboard.name, dashboard.body, True))
    return done

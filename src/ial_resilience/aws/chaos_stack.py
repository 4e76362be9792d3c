"""Everything phase 00e creates besides the experiment templates, in the APIs' own shape.

The same builders run twice, like 00c's: with ``${Parameter}`` placeholders for the
CloudFormation phase (:meth:`ChaosScope.cloudformation`) and with real names for the API path
(the moto deploy test creates each item with the call it names). Each item is a
:class:`~ial_resilience.aws.obs_model.Desired` whose ``spec`` is that call's arguments.

* **stop-condition alarms** — from the same definitions as the paging alarms: the static
  ``alb-5xx``, ``alb-latency-p99`` and ``ecs-running-low`` thresholds of
  :mod:`~ial_resilience.aws.obs_alarms`, and, for every ``burn_rate`` rule (the built-in API
  availability SLO by default), the short-window alarm of its fastest window pair compiled by
  :mod:`~ial_resilience.aws.obs_burn_rate` (an experiment stops on a fast burn long before the
  page's long window agrees). They are metric alarms without actions, named
  ``ialr-<env>-chaos-stop-…`` so they never collide with 00c's paging alarms.
* **the experiment log group** (``/aws/vendedlogs/fis/ialr-<env>``; the vended-logs prefix keeps
  the log-delivery resource policy small) with a retention.
* **the chaos monitoring dashboard** ``ialr-<env>-chaos-monitoring``: the stop conditions'
  states, the FIS experiment log records (FIS reports experiment states to EventBridge and to
  its log, not as CloudWatch metrics), the IaL/Chaos results and 00c's chaos and operations
  widgets for the ALB, ECS and Aurora (reused from :mod:`~ial_resilience.aws.obs_dashboards`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from ial_resilience.alerting.rules import BurnRateRule, RuleFile
from ial_resilience.aws.fis_iam import Arns
from ial_resilience.aws.obs_alarms import Threshold, static_alarm, thresholds
from ial_resilience.aws.obs_burn_rate import slug, window_alarm, window_label
from ial_resilience.aws.obs_dashboards import (
    HEIGHT,
    PER_ROW,
    WIDTH,
    Summed,
    Widget,
    chaos_widgets,
    operations_widgets,
)
from ial_resilience.aws.obs_desired import default_rules
from ial_resilience.aws.obs_model import Desired, Kind
from ial_resilience.aws.obs_scope import BUSINESS_NAMESPACE, Scope
from ial_resilience.errors import InputError

STOP_THRESHOLDS = ("alb-5xx", "alb-latency-p99", "ecs-running-low")
MAX_STOP_CONDITIONS = 5  # FIS quota: stop conditions per experiment template
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)
_ACTION_KEYS = ("ActionsEnabled", "AlarmActions", "OKActions", "InsufficientDataActions")
_OPERATIONS = ("ALB latency p95/p99", "ECS running tasks", "ECS CPU", "Aurora connections")


@dataclass(frozen=True)
class ChaosScope:
    """What phase 00e watches and may touch. ``tag_value``: resources carrying
    ``ialr-chaos=<tag_value>`` are the only ones FIS may act on."""

    observed: Scope
    tag_value: str
    log_retention_days: int | str
    arns: Arns

    @property
    def environment(self) -> str:
        return self.observed.environment

    def name(self, suffix: str) -> str:
        return self.observed.name(suffix)

    @property
    def stop_scope(self) -> Scope:
        """Names alarms ``ialr-<env>-chaos-stop-<key>`` (dimensions unchanged)."""
        return replace(self.observed, environment=f"{self.environment}-chaos-stop")

    @property
    def log_group_name(self) -> str:
        return f"/aws/vendedlogs/fis/ialr-{self.environment}"

    @property
    def log_group_arn(self) -> str:
        return self.arns.arn("logs", f"log-group:{self.log_group_name}:*")

    def alarm_arn(self, name: str) -> str:
        return self.arns.arn("cloudwatch", f"alarm:{name}")

    def role_name(self, family: str) -> str:
        return self.name(f"fis-{family}")

    def role_arn(self, family: str) -> str:
        return self.arns.arn("iam", f"role/{self.role_name(family)}", region=False)

    @classmethod
    def cloudformation(cls) -> ChaosScope:
        observed = replace(Scope.cloudformation(), dynamodb_table="", log_group="", alert_email="")
        return cls(observed, "${ChaosTagValue}", "${FisLogRetentionDays}", Arns())

    @classmethod
    def for_environment(
        cls,
        environment: str = "prod",
        region: str = "us-east-1",
        account: str = "123456789012",
        tag_value: str = "enabled",
        log_retention_days: int = 30,
    ) -> ChaosScope:
        if log_retention_days not in LOG_RETENTION_DAYS:
            raise InputError(
                f"log retention {log_retention_days} days is not one CloudWatch Logs offers",
                hint=f"use one of {', '.join(map(str, LOG_RETENTION_DAYS))}",
            )
        observed = Scope.for_environment(environment, region)
        return cls(observed, tag_value, log_retention_days, Arns("aws", region, account))


def _silent(item: Desired) -> Desired:
    """Stop conditions stop experiments; they do not page (no alarm actions)."""
    spec = {k: v for k, v in item.spec.items() if k not in _ACTION_KEYS}
    return replace(item, spec=spec)


def stop_alarms(scope: ChaosScope, rules: RuleFile | None = None) -> tuple[Desired, ...]:
    """The stop-condition alarms (module docstring), at most :data:`MAX_STOP_CONDITIONS`."""
    stop = scope.stop_scope
    chosen: list[Threshold] = [t for t in thresholds(scope.observed) if t.key in STOP_THRESHOLDS]
    alarms = [_silent(static_alarm(stop, "", t)) for t in chosen]
    for rule in (rules or default_rules()).rules:
        if isinstance(rule, BurnRateRule):
            fastest = min(rule.scaled_windows(), key=lambda pair: pair.long)
            key = f"slo-{slug(rule.name)}-{window_label(fastest.short)}-burn"
            alarms.append(
                window_alarm(
                    stop, rule, slug(key), fastest.short, fastest.factor, BUSINESS_NAMESPACE
                )
            )
    if len(alarms) > MAX_STOP_CONDITIONS:
        raise InputError(
            f"{len(alarms)} stop-condition alarms; an FIS experiment template takes at most "
            f"{MAX_STOP_CONDITIONS}",
            hint="give phase 00e a rule file with fewer burn_rate rules",
        )
    return tuple(alarms)


def log_group(scope: ChaosScope) -> dict[str, Any]:
    """``CreateLogGroup`` + ``PutRetentionPolicy`` arguments of the experiment log group."""
    return {"logGroupName": scope.log_group_name, "retentionInDays": scope.log_retention_days}


def _metric_widget(widget: Widget, region: str) -> dict[str, Any]:
    metrics = [
        line.as_widget_metric(index, widget.period)
        if isinstance(line, Summed)
        else line.as_widget_metric()
        for index, line in enumerate(widget.lines)
    ]
    return {
        "type": "metric",
        "properties": {
            "title": widget.title,
            "region": region,
            "view": widget.view,
            "period": widget.period,
            "metrics": metrics,
        },
    }


def _widgets(scope: ChaosScope, alarm_names: list[str]) -> list[dict[str, Any]]:
    region = scope.observed.region
    query = (
        f"SOURCE '{scope.log_group_name}' | fields @timestamp, id, log_type, "
        "details.experiment_template_id, details.experiment_state.status, "
        "details.action_name, details.action_state.status "
        "| sort @timestamp desc | limit 50"
    )
    ends = (
        f"SOURCE '{scope.log_group_name}' | filter log_type = 'experiment-end' "
        "| stats count(*) as experiments by details.experiment_state.status"
    )
    head: list[dict[str, Any]] = [
        {
            "type": "alarm",
            "properties": {
                "title": "Stop conditions (an ALARM stops every running experiment)",
                "alarms": [scope.alarm_arn(name) for name in alarm_names],
            },
        },
        {
            "type": "log",
            "properties": {"title": "FIS experiments by end state", "region": region,
                           "view": "table", "query": ends},
        },
        {
            "type": "log",
            "properties": {"title": "FIS experiment log (latest records)", "region": region,
                           "view": "table", "query": query},
        },
    ]  # fmt: skip
    ops = [w for w in operations_widgets(scope.observed) if w.title in _OPERATIONS]
    metric = [*chaos_widgets(scope.observed), *ops]
    return head + [_metric_widget(w, region) for w in metric]


def dashboard(scope: ChaosScope, alarms: tuple[Desired, ...]) -> Desired:
    """The chaos monitoring dashboard (module docstring); widgets two per row."""
    widgets = _widgets(scope, [alarm.name for alarm in alarms])
    for index, widget in enumerate(widgets):
        widget.update(
            x=(index % PER_ROW) * WIDTH, y=(index // PER_ROW) * HEIGHT, width=WIDTH, height=HEIGHT
        )
    name = scope.name("chaos-monitoring")
    body = json.dumps({"widgets": widgets}, sort_keys=True, separators=(",", ":"))
    return Desired(
        Kind.DASHBOARD, "chaos-monitoring", name, {"DashboardName": name, "DashboardBody": body}
    )

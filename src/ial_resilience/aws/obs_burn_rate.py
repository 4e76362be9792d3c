"""SLO burn-rate rules from the local rule files, compiled into CloudWatch alarms.

For each window pair of a ``burn_rate`` rule (docs/INTERFACES.md §4): two metric-math alarms,
one per window, each computing the burn ``(1 - good / total) / (1 - objective)`` and comparing
it with the pair's factor, joined by a composite alarm ``ALARM(long) AND ALARM(short)`` that
notifies the SNS topic. Only the composite pages; the window alarms have no actions.

A window up to one day is exact: the alarm period is the window, one datapoint. CloudWatch
periods end at one day, so a longer window (the workbook's 3 d) is evaluated as whole days that
must each burn at the factor — stricter than the 3-day mean; the alarm description says so.
Scaled demo windows are rounded to a valid period (10, 20, 30 s or a multiple of 60 s).

Selectors map to one CloudWatch series: metric name in ``namespace`` with exactly the
``where`` pairs as dimensions (publish EMF with that dimension set).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ial_resilience.alerting.rules import BurnRateRule, BurnWindow, RuleFile, Selector
from ial_resilience.aws.obs_alarms import actions
from ial_resilience.aws.obs_model import AlarmKind, Desired, Kind
from ial_resilience.aws.obs_scope import BUSINESS_NAMESPACE, Scope

DAY = 86400
HIGH_RESOLUTION = (10, 20, 30)


@dataclass(frozen=True)
class Evaluation:
    """How CloudWatch evaluates one window: ``periods`` datapoints of ``period`` seconds."""

    period: int
    periods: int

    @property
    def exact(self) -> bool:
        return self.periods == 1


def evaluation(window: float) -> Evaluation:
    """The alarm period for a window of ``window`` seconds (see the module docstring)."""
    if window > DAY:
        return Evaluation(DAY, -(-round(window) // DAY))
    for period in HIGH_RESOLUTION:
        if window <= period:
            return Evaluation(period, 1)
    return Evaluation(max(60, round(window / 60) * 60), 1)


def window_label(seconds: float) -> str:
    """``300`` -> ``5m``, ``3600`` -> ``1h``, ``259200`` -> ``3d``, ``36`` -> ``36s``."""
    for unit, size in (("d", DAY), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def slug(name: str) -> str:
    """A rule name as a key: letters and digits joined by dashes."""
    return "-".join(part for part in re.split(r"[^A-Za-z0-9]+", name.lower()) if part) or "rule"


def _stat(namespace: str, selector: Selector, period: int) -> dict[str, Any]:
    dims = [{"Name": k, "Value": v} for k, v in sorted(selector.where.items())]
    metric = {"Namespace": namespace, "MetricName": selector.metric, "Dimensions": dims}
    return {"Metric": metric, "Period": period, "Stat": "Sum"}


def burn_expression(budget: float) -> str:
    return f"IF(total > 0, (1 - good / total) / {budget:.10g}, 0)"


def window_alarm(
    scope: Scope, rule: BurnRateRule, key: str, window: float, factor: float, namespace: str
) -> Desired:
    ev = evaluation(window)
    how = "" if ev.exact else f" (evaluated as {ev.periods} whole days, each at the factor)"
    spec = {
        "AlarmName": scope.name(key),
        "AlarmDescription": (
            f"SLO {rule.name}: burn over {window_label(window)} >= {factor:g} "
            f"(objective {rule.objective:g}){how}"
        ),
        "Metrics": [
            {
                "Id": "good",
                "MetricStat": _stat(namespace, rule.good, ev.period),
                "ReturnData": False,
            },
            {
                "Id": "total",
                "MetricStat": _stat(namespace, rule.total, ev.period),
                "ReturnData": False,
            },
            {
                "Id": "burn",
                "Expression": burn_expression(rule.error_budget),
                "Label": "error budget burn rate",
                "ReturnData": True,
            },
        ],
        "EvaluationPeriods": ev.periods,
        "DatapointsToAlarm": ev.periods,
        "Threshold": float(factor),
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
    }
    return Desired(Kind.ALARM, key, scope.name(key), spec, AlarmKind.BURN_RATE)


def pair_alarms(
    scope: Scope, topic_arn: str, rule: BurnRateRule, pair: BurnWindow, namespace: str
) -> tuple[Desired, ...]:
    base = f"slo-{slug(rule.name)}-{window_label(pair.long)}-{window_label(pair.short)}"
    base = slug(base)
    long = window_alarm(scope, rule, f"{base}-long", pair.long, pair.factor, namespace)
    short = window_alarm(scope, rule, f"{base}-short", pair.short, pair.factor, namespace)
    severity = pair.severity or rule.severity
    spec = {
        "AlarmName": scope.name(base),
        "AlarmDescription": (
            f"[{severity.value}] SLO {rule.name} burning its error budget at >= {pair.factor:g}x "
            f"over {window_label(pair.long)} and {window_label(pair.short)}"
        ),
        **actions(topic_arn),
        "AlarmRule": f'ALARM("{long.name}") AND ALARM("{short.name}")',
    }
    composite = Desired(
        Kind.COMPOSITE_ALARM,
        base,
        scope.name(base),
        spec,
        AlarmKind.BURN_RATE,
        (long.key, short.key),
    )
    return (long, short, composite)


def burn_rate_alarms(
    scope: Scope, topic_arn: str, rules: RuleFile, namespace: str = BUSINESS_NAMESPACE
) -> tuple[Desired, ...]:
    """Every window pair of every ``burn_rate`` rule; other rule kinds stay local."""
    compiled: list[Desired] = []
    for rule in rules.rules:
        if isinstance(rule, BurnRateRule):
            for pair in rule.scaled_windows():
                compiled += pair_alarms(scope, topic_arn, rule, pair, namespace)
    return tuple(compiled)


def dimension_sets(rules: RuleFile) -> dict[str, tuple[tuple[str, ...], ...]]:
    """For each metric a compiled alarm reads, the dimension sets it must be published with.

    CloudWatch matches dimensions exactly, while a local selector sums every series whose
    labels include its ``where`` pairs. So a point recorded with ``service`` and ``outcome``
    must also be published under ``(service,)`` for a ``total: {where: {service: …}}``
    selector: emit these as extra EMF dimension sets.
    """
    needed: dict[str, set[tuple[str, ...]]] = {}
    for rule in rules.rules:
        if isinstance(rule, BurnRateRule):
            for selector in rule.selectors():
                needed.setdefault(selector.metric, set()).add(tuple(sorted(selector.where)))
    return {metric: tuple(sorted(sets)) for metric, sets in sorted(needed.items())}

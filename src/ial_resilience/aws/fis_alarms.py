"""FIS stop conditions: CloudWatch alarms compiled from the same alert rules as phase 00c.

:func:`stop_condition_alarms` picks, from :func:`ial_resilience.aws.obs_desired.desired_state`
(the observability set-up's one list), the alarms that mean "users are hurt": the composite
``api-degraded`` and every SLO burn-rate alarm of the rule file. :func:`ensure_alarms` creates
them (PutMetricAlarm / PutCompositeAlarm, idempotent) and returns their ARNs, which become the
template's ``stopConditions``; phase 00e declares the same alarms.
"""

from __future__ import annotations

from collections.abc import Sequence

from ial_resilience.alerting.rules import RuleFile
from ial_resilience.aws._session import AwsTarget, aws_call, client
from ial_resilience.aws.obs_desired import desired_state
from ial_resilience.aws.obs_model import AlarmKind, Desired, Kind
from ial_resilience.aws.obs_scope import Scope

STOP_KEYS = frozenset({"api-degraded"})
MAX_STOP_CONDITIONS = 5


def stop_condition_alarms(
    scope: Scope, topic_arn: str, rules: RuleFile | None = None
) -> tuple[Desired, ...]:
    """The alarms that stop a FIS experiment, children of composites first."""
    items = desired_state(scope, topic_arn, rules)
    chosen = [
        item
        for item in items
        if item.kind in (Kind.ALARM, Kind.COMPOSITE_ALARM)
        and (item.key in STOP_KEYS or item.alarm_kind is AlarmKind.BURN_RATE)
    ]
    needed = {child for item in chosen for child in item.depends_on}
    children = [i for i in items if i.kind is Kind.ALARM and i.key in needed and i not in chosen]
    return (*children, *chosen)


def stop_names(alarms: Sequence[Desired]) -> list[str]:
    """The alarms used as stop conditions: the composites (FIS takes at most five)."""
    return [a.name for a in alarms if a.kind is Kind.COMPOSITE_ALARM][:MAX_STOP_CONDITIONS]


def alarm_arn(scope: Scope, account: str, name: str) -> str:
    return f"arn:aws:cloudwatch:{scope.region}:{account}:alarm:{name}"


def ensure_alarms(target: AwsTarget, alarms: Sequence[Desired]) -> list[str]:
    """Create (or update) ``alarms``; the ARNs of the stop conditions among them."""
    cloudwatch = client("cloudwatch", target)
    for alarm in alarms:
        with aws_call(f"create the stop-condition alarm {alarm.name}", target):
            if alarm.kind is Kind.COMPOSITE_ALARM:
                cloudwatch.put_composite_alarm(**alarm.spec)
            else:
                cloudwatch.put_metric_alarm(**alarm.spec)
    names = stop_names(alarms)
    with aws_call("read the stop-condition alarms", target):
        found = cloudwatch.describe_alarms(
            AlarmNames=names, AlarmTypes=["MetricAlarm", "CompositeAlarm"]
        )
    arns = {a["AlarmName"]: a["AlarmArn"] for a in found.get("MetricAlarms", [])}
    arns |= {a["AlarmName"]: a["AlarmArn"] for a in found.get("CompositeAlarms", [])}
    return [arns[name] for name in names if name in arns]

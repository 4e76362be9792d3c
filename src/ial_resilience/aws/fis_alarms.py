"""FIS stop conditions: CloudWatch alarms compiled from the same alert rules as phase 00c.

:func:`stop_condition_alarms` picks, from :func:`ial_resilience.aws.obs_desired.desired_state`
(the observability set-up's one list), the metric alarms that mean "users are hurt": API
errors, latency and running tasks, and the fastest SLO burn-rate pair of the rule file.
:func:`ensure_alarms` creates them (PutMetricAlarm, idempotent) and returns their ARNs, which
become the template's ``stopConditions``; phase 00e can declare the same alarms.
"""

from __future__ import annotations

from collections.abc import Sequence

from ial_resilience.alerting.rules import RuleFile
from ial_resilience.aws._session import AwsTarget, aws_call, client
from ial_resilience.aws.obs_desired import desired_state
from ial_resilience.aws.obs_model import AlarmKind, Desired, Kind
from ial_resilience.aws.obs_scope import Scope

STOP_KEYS = ("alb-5xx", "alb-latency-p99", "ecs-running-low")
MAX_STOP_CONDITIONS = 5


def stop_condition_alarms(
    scope: Scope, topic_arn: str, rules: RuleFile | None = None
) -> tuple[Desired, ...]:
    """The metric alarms that stop a FIS experiment: the API's 5xx, p99 latency and running
    tasks (the children of phase 00c's ``api-degraded``), then the fastest burn-rate window
    pair of the rules (FIS takes five stop conditions and stops on any one in ALARM)."""
    items = [i for i in desired_state(scope, topic_arn, rules) if i.kind is Kind.ALARM]
    statics = [i for key in STOP_KEYS for i in items if i.key == key]
    burns = [i for i in items if i.alarm_kind is AlarmKind.BURN_RATE]
    return tuple([*statics, *burns][:MAX_STOP_CONDITIONS])


def stop_names(alarms: Sequence[Desired]) -> list[str]:
    return [a.name for a in alarms][:MAX_STOP_CONDITIONS]


def alarm_arn(scope: Scope, account: str, name: str) -> str:
    return f"arn:aws:cloudwatch:{scope.region}:{account}:alarm:{name}"


def ensure_alarms(target: AwsTarget, alarms: Sequence[Desired]) -> list[str]:
    """Create (or update) ``alarms``; the ARNs of the stop conditions among them."""
    cloudwatch = client("cloudwatch", target)
    for alarm in alarms:
        with aws_call(f"create the stop-condition alarm {alarm.name}", target):
            cloudwatch.put_metric_alarm(**alarm.spec)
    names = stop_names(alarms)
    with aws_call("read the stop-condition alarms", target):
        found = cloudwatch.describe_alarms(AlarmNames=names)
    arns = {a["AlarmName"]: a["AlarmArn"] for a in found.get("MetricAlarms", [])}
    return [arns[name] for name in names if name in arns]

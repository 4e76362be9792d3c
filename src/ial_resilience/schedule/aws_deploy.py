"""``ialr schedule deploy --aws``: a suite's cron as EventBridge Scheduler schedules that start
FIS experiments.

One FIS experiment template per experiment of the suite (rendered by
:func:`ial_resilience.aws.fis.render_template`, tagged ``ialr:suite`` and ``ialr:schedule``)
and one schedule per template in the schedule group ``ialr-<suite>``, on the suite's cron in
AWS form (:func:`~ial_resilience.schedule.aws_cron.aws_cron`, timezone UTC). A schedule's
target is the universal target ``arn:aws:scheduler:::aws-sdk:fis:startExperiment`` with the
template id; the scheduler assumes ``scheduler_role_arn`` (it needs ``fis:StartExperiment``
and ``fis:TagResource``) and FIS assumes the template's role.

Deploying again updates templates and schedules in place and removes those of experiments no
longer in the suite; ``delete`` removes all of them and the group. ``min_interval``,
``daily_limit`` and ``adaptive`` have no EventBridge equivalent: the plan says so.
Every AWS call runs inside :func:`~ial_resilience.aws._session.aws_call`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ial_resilience.aws._session import AwsNotFound, AwsTarget, aws_call, client
from ial_resilience.aws.fis import TAG_PREFIX, render_template
from ial_resilience.aws.fis_scope import AwsScope
from ial_resilience.errors import InputError
from ial_resilience.schedule.aws_cron import aws_cron
from ial_resilience.schedule.scheduler import suite_key
from ial_resilience.spec.suite import Suite

START_EXPERIMENT = "arn:aws:scheduler:::aws-sdk:fis:startExperiment"
SUITE_TAG = f"{TAG_PREFIX}suite"
SCHEDULE_TAG = f"{TAG_PREFIX}schedule"
EXECUTION_ID = "<aws.scheduler.execution-id>"
"""A context attribute Scheduler fills per invocation: each start gets its own ClientToken."""
_ROLE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/.+")


def _name(text: str, limit: int = 64) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:limit].strip("-") or "suite"


@dataclass(frozen=True)
class PlannedSchedule:
    name: str
    experiment: str
    template: dict[str, Any]


@dataclass(frozen=True)
class DeployPlan:
    suite: str
    key: str
    group: str
    cron: str
    expression: str
    scheduler_role_arn: str
    schedules: tuple[PlannedSchedule, ...]
    notes: tuple[str, ...] = ()

    def target(self, template_id: str) -> dict[str, Any]:
        body = {
            "ExperimentTemplateId": template_id,
            "ClientToken": EXECUTION_ID,
            "Tags": {SUITE_TAG: self.key},
        }
        return {
            "Arn": START_EXPERIMENT,
            "RoleArn": self.scheduler_role_arn,
            "Input": json.dumps(body),
            "RetryPolicy": {"MaximumRetryAttempts": 0},
        }

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "target_arn": START_EXPERIMENT}


@dataclass(frozen=True)
class Change:
    action: str  # created | updated | deleted | unchanged
    kind: str  # group | template | schedule
    name: str
    id: str = ""


@dataclass
class DeployReport:
    plan: DeployPlan | None
    changes: list[Change] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": None if self.plan is None else self.plan.to_json(),
            "changes": [asdict(c) for c in self.changes],
        }


def _role(value: str | None, flag: str, what: str) -> str:
    if not value:
        raise InputError(f"no {what} given", hint=f"pass {flag} arn:aws:iam::ACCOUNT:role/NAME")
    if not _ROLE.match(value):
        raise InputError(
            f"{flag} {value!r} is not an IAM role ARN",
            hint="write arn:aws:iam::123456789012:role/NAME",
        )
    return value


def plan_deploy(
    suite: Suite, scope: AwsScope, *, role_arn: str | None, scheduler_role_arn: str | None
) -> DeployPlan:
    """What a deploy creates; ``InputError`` (exit 3) for a suite AWS cannot schedule."""
    if suite.schedule is None:
        raise InputError(
            f"{suite.source}: the suite has no schedule block",
            hint='add `schedule: {cron: "0 3 * * 1-5"}` to the suite',
        )
    fis_role = _role(role_arn or scope.role_arn, "--role-arn", "FIS experiment role")
    scheduler_role = _role(scheduler_role_arn, "--scheduler-role-arn", "EventBridge Scheduler role")
    key = suite_key(suite)
    expression = aws_cron(suite.schedule.cron)
    planned = []
    for index, entry in enumerate(suite.experiments, start=1):
        assert entry.experiment is not None  # load_suite loaded it
        name = _name(f"{key[:40]}-{index:02d}-{entry.experiment.title}")
        template = render_template(
            entry.experiment, scope, role_arn=fis_role, tags={SUITE_TAG: key, SCHEDULE_TAG: name}
        )
        planned.append(PlannedSchedule(name, entry.experiment.title, template))
    notes = []
    schedule = suite.schedule
    if schedule.min_interval or schedule.daily_limit or schedule.adaptive:
        notes.append(
            "min_interval, daily_limit and adaptive are enforced by `ialr schedule "
            "run` only; EventBridge starts on every cron time"
        )
    if len(planned) > 1:
        notes.append("FIS has no suite: every experiment's template starts at the cron time")
    return DeployPlan(
        suite.title,
        key,
        _name(f"ialr-{key}"),
        schedule.cron,
        expression,
        scheduler_role,
        tuple(planned),
        tuple(notes),
    )


# -- AWS --------------------------------------------------------------------------------------
def _templates(fis: Any, key: str, target: AwsTarget) -> dict[str, str]:
    """Schedule name → template id of this suite's templates."""
    found: dict[str, str] = {}
    with aws_call("list FIS experiment templates", target):
        token: str | None = None
        while True:
            page = fis.list_experiment_templates(**({"nextToken": token} if token else {}))
            for item in page.get("experimentTemplates", []):
                tags = item.get("tags") or {}
                if tags.get(SUITE_TAG) == key and tags.get(SCHEDULE_TAG):
                    found[tags[SCHEDULE_TAG]] = item["id"]
            token = page.get("nextToken")
            if not token:
                return found


def _schedules(scheduler: Any, group: str, target: AwsTarget) -> set[str]:
    names: set[str] = set()
    with aws_call(f"list the schedules of group {group}", target):
        token: str | None = None
        while True:
            extra = {"NextToken": token} if token else {}
            page = scheduler.list_schedules(GroupName=group, **extra)
            names.update(item["Name"] for item in page.get("Schedules", []))
            token = page.get("NextToken")
            if not token:
                return names


def _group_exists(scheduler: Any, group: str, target: AwsTarget) -> bool:
    try:
        with aws_call(f"read schedule group {group}", target):
            scheduler.get_schedule_group(Name=group)
        return True
    except AwsNotFound:
        return False


def _put_template(
    fis: Any, body: dict[str, Any], existing: str | None, target: AwsTarget, name: str
) -> Change:
    if existing is None:
        with aws_call(f"create the FIS template of {name}", target):
            created = fis.create_experiment_template(clientToken=name, **body)
        return Change("created", "template", name, created["experimentTemplate"]["id"])
    update = {k: v for k, v in body.items() if k not in ("tags",)}
    with aws_call(f"update FIS template {existing}", target):
        fis.update_experiment_template(id=existing, **update)
    return Change("updated", "template", name, existing)


def deploy(plan: DeployPlan, target: AwsTarget) -> DeployReport:
    """Create or update every template and schedule of ``plan``; remove stale ones."""
    fis, scheduler = client("fis", target), client("scheduler", target)
    report = DeployReport(plan)
    if not _group_exists(scheduler, plan.group, target):
        with aws_call(f"create schedule group {plan.group}", target):
            scheduler.create_schedule_group(
                Name=plan.group, Tags=[{"Key": SUITE_TAG, "Value": plan.key}]
            )
        report.changes.append(Change("created", "group", plan.group))
    templates = _templates(fis, plan.key, target)
    schedules = _schedules(scheduler, plan.group, target)
    for item in plan.schedules:
        change = _put_template(fis, item.template, templates.get(item.name), target, item.name)
        report.changes.append(change)
        body = {
            "Name": item.name,
            "GroupName": plan.group,
            "ScheduleExpression": plan.expression,
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": plan.target(change.id),
            "State": "ENABLED",
            "Description": f"ialr suite {plan.suite}: {item.experiment}"[:512],
        }
        verb = "update" if item.name in schedules else "create"
        with aws_call(f"{verb} schedule {item.name}", target):
            answer = getattr(scheduler, f"{verb}_schedule")(**body)
        report.changes.append(Change(f"{verb}d", "schedule", item.name, answer["ScheduleArn"]))
    wanted = {item.name for item in plan.schedules}
    for name in sorted(schedules - wanted):
        report.changes.append(_delete_schedule(scheduler, plan.group, name, target))
    for name, template_id in sorted(templates.items()):
        if name not in wanted:
            report.changes.append(_delete_template(fis, name, template_id, target))
    return report


def _delete_schedule(scheduler: Any, group: str, name: str, target: AwsTarget) -> Change:
    with aws_call(f"delete schedule {name}", target):
        scheduler.delete_schedule(Name=name, GroupName=group)
    return Change("deleted", "schedule", name)


def _delete_template(fis: Any, name: str, template_id: str, target: AwsTarget) -> Change:
    with aws_call(f"delete FIS template {template_id}", target):
        fis.delete_experiment_template(id=template_id)
    return Change("deleted", "template", name, template_id)


def delete(suite: Suite, target: AwsTarget) -> DeployReport:
    """Remove every schedule, template and the group a deploy of ``suite`` made."""
    key = suite_key(suite)
    group = _name(f"ialr-{key}")
    fis, scheduler = client("fis", target), client("scheduler", target)
    report = DeployReport(None)
    if _group_exists(scheduler, group, target):
        for name in sorted(_schedules(scheduler, group, target)):
            report.changes.append(_delete_schedule(scheduler, group, name, target))
        with aws_call(f"delete schedule group {group}", target):
            scheduler.delete_schedule_group(Name=group)
        report.changes.append(Change("deleted", "group", group))
    for name, template_id in sorted(_templates(fis, key, target).items()):
        report.changes.append(_delete_template(fis, name, template_id, target))
    return report


def summary_lines(report: DeployReport, *, dry_run: bool) -> Sequence[str]:
    lines: list[str] = []
    plan = report.plan
    if plan is not None:
        lines.append(
            f"suite {plan.suite!r}: group {plan.group}, {plan.cron!r} → {plan.expression} (UTC)"
        )
        verb = "would create or update" if dry_run else "schedules"
        for item in plan.schedules:
            lines.append(
                f"  {verb}: {item.name} → FIS template of {item.experiment!r} "
                f"({len(item.template['actions'])} action(s))"
            )
        lines += [f"  note: {note}" for note in plan.notes]
    for change in report.changes:
        lines.append(
            f"  {change.action} {change.kind} {change.name}"
            + (f" ({change.id})" if change.id else "")
        )
    if not lines:
        lines.append("nothing deployed for this suite")
    return lines

"""The FIS translation (docs/INTERFACES.md §11): an experiment and a scope → a FIS template.

:func:`render_template` gives the ``CreateExperimentTemplate`` request body (boto3 casing) of a
whole experiment: one FIS target per abstract target, one action per method step, an
``aws:fis:wait`` before each step that starts ``after`` seconds into the method, stop conditions
on CloudWatch alarms. :func:`check` lists, as file:line problems, every step that cannot be
translated (a fault with no FIS action, a target missing from the scope, a parameter the action
cannot take) — nothing is dropped silently. The AWS provider and phase 00e share both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ial_resilience.aws.fis_actions import (
    ALTERNATES,
    FIS_ACTIONS,
    NO_FIS_ACTION,
    FisAction,
    action_for,
    all_actions,
    iso_duration,
    resource_types,
)
from ial_resilience.aws.fis_scope import AwsScope, ScopeEntry, load_scope
from ial_resilience.errors import Problem, SpecError
from ial_resilience.spec.document import Document, read_document

TAG_PREFIX = "ialr:"
KILL_SIGNALS = frozenset({"SIGKILL", "SIGTERM"})


def _name(text: str) -> str:
    """A FIS target/action name: letters, digits, ``-`` and ``_``, at most 64 characters."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:64] or "target"


def selection_mode(target: Any, entry: ScopeEntry) -> str:
    """``COUNT(n)`` from ``replicas``, ``PERCENT(p)`` from ``share``, else the entry's."""
    if getattr(target, "replicas", None) is not None:
        return f"COUNT({target.replicas})"
    if getattr(target, "share", None) is not None:
        return f"PERCENT({round(target.share * 100)})"
    return entry.selection


def fis_target(target: Any, entry: ScopeEntry, resource_type: str) -> dict[str, Any]:
    """The FIS target of one abstract target."""
    body: dict[str, Any] = {
        "resourceType": resource_type,
        "selectionMode": selection_mode(target, entry),
    }
    if entry.tags is not None:
        body["resourceTags"] = dict(entry.tags)
    if entry.arns is not None:
        body["resourceArns"] = list(entry.arns)
    if entry.filters:
        body["filters"] = [{"path": f.path, "values": list(f.values)} for f in entry.filters]
    if entry.parameters:
        body["parameters"] = dict(entry.parameters)
    return body


def step_action(experiment: Any, scope: AwsScope, index: int) -> tuple[FisAction, ScopeEntry, str]:
    """The action, scope entry and resource type of method step ``index`` (checked already)."""
    step = experiment.method[index]
    target = experiment.targets[step.target]
    entry = scope.entry(target.kind.value, target.name)
    if entry is None:
        raise SpecError([_step_problem(experiment, index, "target", "no scope entry", "")])
    rtype = scope.resource_type(target.kind.value, entry)
    action = action_for(step.fault, rtype)
    if action is None:
        raise SpecError([_step_problem(experiment, index, "fault", "no FIS action", "")])
    return action, entry, rtype


def render_template(
    experiment: Any,
    scope: AwsScope,
    *,
    role_arn: str,
    stop_alarm_arns: Sequence[str] = (),
    log_group_arn: str | None = None,
    tags: Mapping[str, str] | None = None,
    steps: Iterable[int] | None = None,
) -> dict[str, Any]:
    """The ``CreateExperimentTemplate`` body of ``experiment`` on ``scope``.

    ``steps`` limits the template to some method steps, started at once (the AWS provider
    starts one experiment per step and schedules them itself); default: every step, each
    after an ``aws:fis:wait`` of its ``after``. Raises ``SpecError`` (exit 3) listing every
    problem of :func:`check`.
    """
    raise_if_problems(check(experiment, scope))
    chosen = list(range(len(experiment.method))) if steps is None else list(steps)
    targets: dict[str, Any] = {}
    actions: dict[str, Any] = {}
    for index in chosen:
        step = experiment.method[index]
        action, entry, rtype = step_action(experiment, scope, index)
        target_name = _name(f"{step.target}-{rtype.rsplit(':', 1)[-1]}")
        targets[target_name] = fis_target(experiment.targets[step.target], entry, rtype)
        name = _name(f"s{index}-{step.fault.replace('.', '-')}")
        body: dict[str, Any] = {
            "actionId": action.action_id,
            "description": f"{step.fault} on {step.target}"
            + (f" for {step.duration:g}s" if action.timed else " (one-shot)"),
            "parameters": action.parameters(
                step.params, step.duration, entry.options(scope.region)
            ),
            "targets": {action.target_key: target_name},
        }
        if step.after > 0 and steps is None:
            wait = f"s{index}-wait"
            actions[wait] = {
                "actionId": "aws:fis:wait",
                "description": f"start {step.fault} {step.after:g}s into the method",
                "parameters": {"duration": iso_duration(step.after)},
            }
            body["startAfter"] = [wait]
        actions[name] = body
    alarms = list(dict.fromkeys([*stop_alarm_arns, *scope.stop_alarms]))
    template: dict[str, Any] = {
        "description": experiment.title[:512],
        "roleArn": role_arn,
        "targets": targets,
        "actions": actions,
        "stopConditions": (
            [{"source": "aws:cloudwatch:alarm", "value": arn} for arn in alarms]
            or [{"source": "none"}]
        ),
        "tags": {f"{TAG_PREFIX}experiment": _name(experiment.title), **dict(tags or {})},
    }
    group = log_group_arn or scope.log_group_arn
    if group:
        template["logConfiguration"] = {
            "cloudWatchLogsConfiguration": {"logGroupArn": group.removesuffix(":*") + ":*"},
            "logSchemaVersion": 2,
        }
    return template


def check(experiment: Any, scope: AwsScope) -> list[Problem]:
    """Every step of ``experiment`` that cannot run on ``scope``, at its file:line."""
    problems: list[Problem] = []
    document = _LazyDocument(experiment)  # read again only when there is a problem to place
    for index, step in enumerate(experiment.method):
        target = experiment.targets[step.target]
        kind = target.kind.value
        entry = scope.entry(kind, target.name)
        if step.fault not in FIS_ACTIONS and not any(f == step.fault for f, _ in ALTERNATES):
            why = NO_FIS_ACTION.get(step.fault, "FIS has no equivalent")
            problems.append(
                _problem(document, experiment, ("method", index, "fault"),
                         f"{step.fault}, which has no FIS action ({why})",
                         "a fault FIS can inject (see `ialr chaos parity`), or run it with "
                         "--provider local")
            )  # fmt: skip
            continue
        if entry is None:
            known = ", ".join(scope.names(kind)) or "none"
            problems.append(
                _problem(document, experiment, ("targets", step.target),
                         f"{kind} {target.name!r}, which the scope {scope.source} does not map",
                         f"an entry under {kind}s: in the scope file (it has: {known})")
            )  # fmt: skip
            continue
        rtype = scope.resource_type(kind, entry)
        action = action_for(step.fault, rtype)
        if action is None:
            problems.append(
                _problem(document, experiment, ("method", index, "fault"),
                         f"{step.fault} on {rtype} (scope {scope.source}), which FIS cannot do",
                         "a resource type of " + ", ".join(resource_types(step.fault)))
            )  # fmt: skip
            continue
        problems += _parameter_problems(document, experiment, scope, index, action, entry)
    return problems


def _parameter_problems(
    document: _LazyDocument,
    experiment: Any,
    scope: AwsScope,
    index: int,
    action: FisAction,
    entry: ScopeEntry,
) -> list[Problem]:
    step = experiment.method[index]
    problems = []
    missing = [key for key in action.needs if getattr(entry, key) in (None, ())]
    if missing:
        target = experiment.targets[step.target]
        problems.append(
            _problem(document, experiment, ("method", index, "target"),
                     f"a scope entry for {target.kind.value} {target.name!r} without "
                     + ", ".join(missing),
                     f"{', '.join(missing)} in that entry of {scope.source} ({action.action_id} "
                     "needs it)")
        )  # fmt: skip
    if action.min_duration and step.duration < action.min_duration:
        problems.append(
            _problem(document, experiment, ("method", index, "duration"),
                     f"{step.duration:g}s", f"at least {action.min_duration:g}s "
                     f"({action.action_id} runs from 1 minute)")
        )  # fmt: skip
    if action.action_id == "aws:ecs:task-kill-process" and step.params.signal not in KILL_SIGNALS:
        problems.append(
            _problem(document, experiment, ("method", index, "with", "signal"),
                     step.params.signal, "SIGKILL or SIGTERM (aws:ecs:task-kill-process)")
        )  # fmt: skip
    if step.fault == "scaling.capacity-limit" and step.params.limit != 0:
        problems.append(
            _problem(document, experiment, ("method", index, "with", "limit"),
                     str(step.params.limit), "0 (FIS refuses every launch; it cannot cap at n)")
        )  # fmt: skip
    return problems


class _LazyDocument:
    def __init__(self, experiment: Any) -> None:
        self.experiment = experiment
        self.loaded = False
        self.document: Document | None = None

    def get(self) -> Document | None:
        if not self.loaded:
            self.document, self.loaded = _document(self.experiment), True
        return self.document


def _document(experiment: Any) -> Document | None:
    source = getattr(experiment, "source", "")
    if not source:
        return None
    try:
        return read_document(source)
    except SpecError:
        return None


def _problem(
    lazy: _LazyDocument | Document | None,
    experiment: Any,
    path: tuple[str | int, ...],
    found: str,
    expected: str,
) -> Problem:
    document = lazy.get() if isinstance(lazy, _LazyDocument) else lazy
    if document is None:
        key = ".".join(str(p) for p in path)
        return Problem(
            getattr(experiment, "source", "") or "<experiment>", 1, 1, key, found, expected
        )
    return document.problem(path, found, expected, at_key=path[0] == "targets")


def _step_problem(experiment: Any, index: int, key: str, found: str, expected: str) -> Problem:
    return _problem(_document(experiment), experiment, ("method", index, key), found, expected)


def raise_if_problems(problems: list[Problem]) -> None:
    if problems:
        raise SpecError(
            problems,
            hint="`ialr chaos parity` lists what FIS can do; fix the experiment or the scope",
        )


__all__ = [
    "ALTERNATES",
    "FIS_ACTIONS",
    "NO_FIS_ACTION",
    "FisAction",
    "action_for",
    "all_actions",
    "check",
    "load_scope",
    "render_template",
    "selection_mode",
]

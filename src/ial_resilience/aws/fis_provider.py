"""The AWS provider: each method step runs as one AWS FIS experiment.

The engine keeps its schedule, steady state, guardrails (local probes), journal, ledger and
safety policy; this provider turns ``apply`` into CreateExperimentTemplate + StartExperiment
(the template of that one step, from :func:`ial_resilience.aws.fis.render_template`) and
``revert`` into StopExperiment, and follows the experiment's state (pending → initiating →
running → completed / stopping → stopped / failed). FIS stop conditions (CloudWatch alarms) stop
an experiment on AWS's side; the follower thread sees it and :meth:`check_alive` reports it, so
the engine reverts the rest and records why.

Every experiment is tagged ``ialr:fault-key`` (the ledger key) and ``ialr:experiment`` (the
experiment's slug): ``ialr chaos cleanup`` finds and stops what a crashed run left, and a run is
refused (exit 4) while an experiment of the same file is still running. API throttling is
retried with backoff by botocore's ``standard`` retry mode (``aws._session``).

moto (the test server) models templates, tags, the state machine and StopExperiment; it
injects nothing (no task is slowed or stopped) and, unless its state manager is set to
``manual``, jumps straight from ``pending`` to ``completed``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ial_resilience.aws._session import AwsError, AwsNotFound, AwsTarget, aws_call, client
from ial_resilience.aws.fis import TAG_PREFIX, _name, action_for, check, raise_if_problems
from ial_resilience.aws.fis import render_template as render
from ial_resilience.aws.fis_actions import ALTERNATES, FIS_ACTIONS
from ial_resilience.aws.fis_scope import AwsScope
from ial_resilience.engine.ledger import PendingFault
from ial_resilience.engine.model import AppliedFault, Evidence, PlannedFault, ResolvedTarget
from ial_resilience.engine.provider import CleanupResult
from ial_resilience.errors import FaultRejected, InputError, ProviderError, SafetyRefusal

PROBE_KINDS = frozenset({"http", "tcp", "sql", "process", "metric", "command"})
ACTIVE = frozenset({"pending", "initiating", "running", "stopping"})
TERMINAL = frozenset({"completed", "stopped", "failed", "cancelled"})
KEY_TAG = f"{TAG_PREFIX}fault-key"
RUN_TAG = f"{TAG_PREFIX}run"
EXPERIMENT_TAG = f"{TAG_PREFIX}experiment"


@dataclass
class Followed:
    """What the follower saw of one FIS experiment."""

    experiment_id: str
    states: list[tuple[float, str]] = field(default_factory=list)
    reason: str = ""
    stop_requested: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def status(self) -> str:
        return self.states[-1][1] if self.states else "pending"

    def see(self, status: str, reason: str) -> None:
        with self.lock:  # the follower thread and the engine's thread both read states
            if not self.states or self.states[-1][1] != status:
                self.states.append((time.monotonic(), status))
            self.reason = reason


class AwsProvider:
    """Runs faults as FIS experiments at ``target`` (region, endpoint) on ``scope``."""

    name = "aws"

    def __init__(
        self,
        scope: AwsScope | None,
        target: AwsTarget,
        *,
        role_arn: str | None = None,
        stop_alarm_arns: Sequence[str] = (),
        log_group_arn: str | None = None,
        poll: float = 0.2,
        state_timeout: float = 30.0,
    ) -> None:
        self.scope = scope
        self.target = target
        self.role_arn = role_arn or (scope.role_arn if scope else None)
        self.stop_alarm_arns = tuple(stop_alarm_arns)
        self.log_group_arn = log_group_arn
        self.poll = poll
        self.state_timeout = state_timeout
        self.experiment: Any = None
        self.run_tags: dict[str, str] = {}
        self._followed: dict[str, Followed] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the protocol ---------------------------------------------------------------------
    def supported_faults(self) -> frozenset[str]:
        return frozenset(FIS_ACTIONS) | {fault for fault, _ in ALTERNATES}

    def supported_probes(self) -> frozenset[str]:
        return PROBE_KINDS

    def resolve_targets(self, experiment: Any) -> Mapping[str, ResolvedTarget]:
        """Every target from the scope (file:line problems otherwise); refuses (exit 4) when
        an experiment of the same file still runs on FIS."""
        scope = self._scope()
        raise_if_problems(check(experiment, scope))
        self.experiment = experiment
        resolved = {}
        for name, target in experiment.targets.items():
            entry = scope.entry(target.kind.value, target.name)
            if entry is None:  # a target no step uses
                resolved[name] = ResolvedTarget(name, target.kind.value, "not in the scope")
                continue
            rtype = scope.resource_type(target.kind.value, entry)
            where = (
                "tags " + ",".join(f"{k}={v}" for k, v in sorted(entry.tags.items()))
                if entry.tags
                else f"{len(entry.arns or ())} ARN(s)"
            )
            resolved[name] = ResolvedTarget(name, target.kind.value, f"{rtype} {where}")
        self._refuse_if_running(_name(experiment.title))
        return resolved

    def check_ready(self) -> None:
        """FIS answers and the role exists (IAM GetRole); ProviderError/InputError otherwise."""
        if not self.role_arn:
            raise InputError(
                "no IAM role for FIS experiments",
                hint="pass --role-arn ARN or set role_arn: in the scope file (phase 00e "
                "creates one role per action family)",
            )
        with aws_call("reach AWS FIS", self.target):
            client("fis", self.target).list_experiment_templates(maxResults=1)
        role = self.role_arn.rsplit("/", 1)[-1]
        try:
            with aws_call(f"find the FIS role {role}", self.target):
                client("iam", self.target).get_role(RoleName=role)
        except (AwsError, AwsNotFound) as error:
            if error.code in ("AccessDenied", "AccessDeniedException"):
                return  # may not read IAM: FIS itself refuses a role it cannot assume
            if error.code != "NoSuchEntity":
                raise
            raise InputError(
                f"the FIS role {self.role_arn} does not exist ({self.target.describe()})",
                hint="deploy phase 00e (it creates the roles) or pass --role-arn of an existing "
                "role that fis.amazonaws.com may assume",
            ) from error

    def check_alive(self) -> None:
        """Cheap: reads what the follower saw. A FIS experiment that failed, or that FIS
        stopped without being asked (a stop-condition alarm), is reported here."""
        with self._lock:
            followed = list(self._followed.values())
        for item in followed:
            if item.stop_requested is None and item.status in ("failed", "stopped"):
                raise ProviderError(
                    f"FIS {item.status} experiment {item.experiment_id}: {item.reason}",
                    hint="a stop condition alarm fired, `ialr chaos stop` was run, or FIS could "
                    "not act on the targets; "
                    "see the experiment in the FIS console",
                )

    def apply(self, planned: PlannedFault) -> AppliedFault:
        if self.experiment is None:
            raise ProviderError("resolve_targets was not called before apply")
        scope = self._scope()
        step = self.experiment.method[planned.index]
        target = self.experiment.targets[step.target]
        entry = scope.entry(target.kind.value, target.name)
        assert entry is not None  # checked by resolve_targets
        action = action_for(step.fault, scope.resource_type(target.kind.value, entry))
        assert action is not None
        tags = {KEY_TAG: planned.key, RUN_TAG: planned.key.rsplit("-s", 1)[0], **self.run_tags}
        body = render(
            self.experiment, scope, role_arn=str(self.role_arn),
            stop_alarm_arns=self.stop_alarm_arns, log_group_arn=self.log_group_arn,
            tags=tags, steps=[planned.index],
        )  # fmt: skip
        fis = client("fis", self.target)
        with aws_call("create the FIS experiment template", self.target):
            template = fis.create_experiment_template(clientToken=f"{planned.key}-t", **body)
        template_id = template["experimentTemplate"]["id"]
        with aws_call("start the FIS experiment", self.target):
            started = fis.start_experiment(
                clientToken=planned.key,
                experimentTemplateId=template_id,
                tags={**tags, EXPERIMENT_TAG: body["tags"][EXPERIMENT_TAG]},
            )
        experiment_id = started["experiment"]["id"]
        followed = Followed(experiment_id)
        followed.see(started["experiment"]["state"]["status"], "")
        with self._lock:
            self._followed[planned.key] = followed
        self._start_follower()
        self._await(followed, lambda s: s not in ("pending", "initiating"))
        if followed.status == "failed":
            self._delete_template(template_id)
            raise FaultRejected(
                f"FIS failed experiment {experiment_id} for {planned.fault}: {followed.reason}",
                hint="check the role's permissions and that the targets exist",
            )
        return AppliedFault(
            planned, self.name, action.action_id, (experiment_id, template_id),
            time.time(), time.monotonic(), time.time() + planned.duration,
        )  # fmt: skip

    def verify(self, applied: AppliedFault) -> Evidence:
        followed = self._followed.get(applied.planned.key)
        if followed is None:
            return Evidence(None, {"experiment_id": applied.handles[0]})
        return self._evidence(followed, applied.handles[1])

    def revert(self, applied: AppliedFault) -> Evidence:
        """StopExperiment, then wait for a final state; the evidence lists the states seen."""
        experiment_id, template_id = applied.handles[0], applied.handles[1]
        followed = self._followed.get(applied.planned.key) or Followed(experiment_id)
        self.stop_experiment(experiment_id, followed)
        self._delete_template(template_id)
        with self._lock:
            self._followed.pop(applied.planned.key, None)
        return self._evidence(followed, template_id)

    def cleanup(self, pending: Sequence[PendingFault]) -> list[CleanupResult]:
        """Stop every FIS experiment a ledger says may still run (found by its key tag)."""
        results = []
        by_key = self._experiments_by_key()
        for item in pending:
            key = item.intent.key
            stopped: list[str] = []
            gone: list[str] = []
            error = None
            try:
                for summary in by_key.get(key, []):
                    if summary["state"]["status"] in ACTIVE:
                        self.stop_experiment(summary["id"], Followed(summary["id"]))
                        stopped.append(summary["id"])
                    else:
                        gone.append(summary["id"])
            except ProviderError as exc:
                error = exc.message
            note = None if by_key.get(key) else "no FIS experiment was started for it"
            results.append(
                CleanupResult(key, item.intent.run_id, str(item.intent.data.get("fault", "")),
                              tuple(stopped), tuple(gone), error, note)
            )  # fmt: skip
        return results

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- FIS calls --------------------------------------------------------------------------
    def stop_experiment(self, experiment_id: str, followed: Followed | None = None) -> Followed:
        """Ask FIS to stop ``experiment_id`` and wait for a final state (≤ state_timeout)."""
        followed = followed or Followed(experiment_id)
        followed.stop_requested = time.monotonic()
        if followed.status in TERMINAL:
            return followed  # ended on its own (a one-shot action, or its duration ran out)
        fis = client("fis", self.target)
        try:
            with aws_call(f"stop FIS experiment {experiment_id}", self.target):
                answer = fis.stop_experiment(id=experiment_id)
        except AwsError:
            status, reason = self.experiment_state(experiment_id)
            if status not in TERMINAL:
                raise
            followed.see(status, reason)  # it ended between our last read and the stop
            return followed
        followed.see(answer["experiment"]["state"]["status"], _reason(answer["experiment"]))
        self._await(followed, lambda s: s in TERMINAL, poll_here=True)
        return followed

    def experiment_state(self, experiment_id: str) -> tuple[str, str]:
        with aws_call(f"read FIS experiment {experiment_id}", self.target):
            answer = client("fis", self.target).get_experiment(id=experiment_id)
        return answer["experiment"]["state"]["status"], _reason(answer["experiment"])

    def _experiments_by_key(self) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        for summary in self._list_experiments():
            key = (summary.get("tags") or {}).get(KEY_TAG)
            if key:
                found.setdefault(key, []).append(summary)
        return found

    def _list_experiments(self) -> Iterator[dict[str, Any]]:
        fis = client("fis", self.target)
        token: str | None = None
        while True:
            with aws_call("list FIS experiments", self.target):
                page = fis.list_experiments(**({"nextToken": token} if token else {}))
            yield from page.get("experiments", [])
            token = page.get("nextToken")
            if not token:
                return

    def _refuse_if_running(self, slug: str) -> None:
        for summary in self._list_experiments():
            tags = summary.get("tags") or {}
            if tags.get(EXPERIMENT_TAG) == slug and summary["state"]["status"] in ACTIVE:
                raise SafetyRefusal(
                    f"FIS experiment {summary['id']} of {slug!r} is still "
                    f"{summary['state']['status']} (run {tags.get(RUN_TAG, '?')})",
                    hint=f"wait for it, or stop it: `ialr chaos stop {summary['id']}`",
                )

    def _delete_template(self, template_id: str) -> None:
        try:
            with aws_call("delete the FIS experiment template", self.target):
                client("fis", self.target).delete_experiment_template(id=template_id)
        except (AwsError, AwsNotFound):
            pass  # already gone; a leftover template injects nothing

    # -- following the state --------------------------------------------------------------
    def _start_follower(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._follow, name="fis-follow", daemon=True)
                self._thread.start()

    def _follow(self) -> None:
        while not self._stop.wait(self.poll):
            with self._lock:
                items = [f for f in self._followed.values() if f.status not in TERMINAL]
            for item in items:
                try:
                    item.see(*self.experiment_state(item.experiment_id))
                except ProviderError:
                    continue  # a lost answer: the next round reads it again

    def _await(self, followed: Followed, done: Any, *, poll_here: bool = False) -> None:
        deadline = time.monotonic() + self.state_timeout
        while not done(followed.status):
            if time.monotonic() > deadline:
                raise ProviderError(
                    f"FIS experiment {followed.experiment_id} stayed {followed.status} for "
                    f"{self.state_timeout:g}s",
                    hint="`ialr chaos stop` it, or `ialr chaos cleanup` later",
                )
            followed.see(*self.experiment_state(followed.experiment_id))
            if not done(followed.status):
                time.sleep(self.poll if not poll_here else min(self.poll, 0.1))

    def _evidence(self, followed: Followed, template_id: str) -> Evidence:
        status = followed.status
        landed = True if status in ("running", "completed", "stopping", "stopped") else None
        if status == "failed":
            landed = False
        t0 = followed.states[0][0] if followed.states else time.monotonic()
        details: dict[str, Any] = {
            "experiment_id": followed.experiment_id,
            "template_id": template_id,
            "status": status,
            "reason": followed.reason,
            "states": [{"t_s": round(t - t0, 3), "status": s} for t, s in followed.states],
        }
        if followed.stop_requested is not None:
            seen = [t for t, s in followed.states if s in ("stopping", *TERMINAL)]
            after = [t - followed.stop_requested for t in seen if t >= followed.stop_requested]
            if after:
                details["stop_seen_s"] = round(min(after), 3)
        return Evidence(landed, details)

    def _scope(self) -> AwsScope:
        if self.scope is None:
            raise InputError(
                "--provider aws needs a scope file",
                hint="pass --scope aws-scope.yaml (see examples/aws-scope.yaml)",
            )
        return self.scope


def _reason(experiment: Mapping[str, Any]) -> str:
    return str(experiment.get("state", {}).get("reason", ""))


def stop_by_id(target: AwsTarget, experiment_id: str, timeout: float = 30.0) -> Followed:
    """Stop one FIS experiment (``ialr chaos stop``)."""
    provider = AwsProvider(None, target, state_timeout=timeout)
    return provider.stop_experiment(experiment_id)


def experiments_of_run(target: AwsTarget, run_id: str) -> list[dict[str, Any]]:
    """Every FIS experiment a run started (by its ``ialr:run`` tag)."""
    provider = AwsProvider(None, target)
    return [
        summary
        for summary in provider._list_experiments()
        if (summary.get("tags") or {}).get(RUN_TAG) == run_id
    ]

"""Roll an ECS service back to its previous task definition (docs/INTERFACES.md §10).

The state is read from ``DescribeServices``: the service's task definition is the version,
its deployments say the phase —

* one ``PRIMARY`` deployment, ``rolloutState`` ``COMPLETED``, running the service's task
  definition: ``stable``;
* a ``PRIMARY`` deployment still ``IN_PROGRESS``, ``ACTIVE`` deployments beside it, or a
  primary not yet running what the service asks for: ``rolling_out``;
* an ``ACTIVE`` deployment whose rollout ``FAILED`` beside the primary: ``rolling_back`` (the
  deployment circuit breaker rolls back to the last completed deployment);
* the ``PRIMARY`` rollout ``FAILED``: ``failed``.

The previous version is the newest ``ACTIVE`` deployment's task definition while a rollout
runs, else the newest registered revision of the family below the current one. ``rollback``
updates the service to it and waits until the ``PRIMARY`` deployment runs it to completion;
with no previous revision it is refused (exit 4) before anything changes.
:func:`circuit_breaker_config` is the ``deploymentConfiguration`` that lets ECS roll back a
failing deployment by itself.

moto (the tests' AWS) records ``UpdateService``'s task definition and deployment
configuration but never replaces the ``PRIMARY`` deployment: it keeps running the revision the
service was created with. So against moto a rollback to that revision completes at once and a
rollback to any other one never does (it times out); the real sequence (new primary in
progress, then completed) is tested with a scripted client at the boto3 boundary.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ial_resilience.aws._session import AwsError, AwsNotFound, AwsTarget, aws_call, client
from ial_resilience.errors import InputError
from ial_resilience.rollback.model import (
    DeploymentState,
    Phase,
    RollbackError,
    RollbackOutcome,
    RollbackRefused,
)

NAME = "ecs"
_REVISION = re.compile(r"(?:^|/)([A-Za-z0-9_-]{1,255}):(\d+)$")
_NOT_FOUND = frozenset({"ClusterNotFoundException", "ServiceNotFoundException"})


def revision_of(task_definition: str) -> str:
    """``arn:…:task-definition/api:7`` or ``api:7`` -> ``api:7`` (anything else unchanged)."""
    found = _REVISION.search(task_definition)
    return f"{found.group(1)}:{found.group(2)}" if found else task_definition


def _split(task_definition: str) -> tuple[str, int] | None:
    found = _REVISION.search(task_definition)
    return (found.group(1), int(found.group(2))) if found else None


def circuit_breaker_config(
    *, maximum_percent: int = 200, minimum_healthy_percent: int = 100
) -> dict[str, Any]:
    """The ``deploymentConfiguration`` of ``CreateService``/``UpdateService`` that has ECS
    stop a failing deployment and roll back to the last completed one by itself."""
    if not 0 <= minimum_healthy_percent <= 100 or not 100 <= maximum_percent <= 200:
        raise InputError(
            f"deployment percentages {minimum_healthy_percent}/{maximum_percent} are out of range",
            hint="minimum healthy 0-100 %, maximum 100-200 % of the desired count",
        )
    return {
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "maximumPercent": maximum_percent,
        "minimumHealthyPercent": minimum_healthy_percent,
    }


def _primary(service: dict[str, Any]) -> dict[str, Any] | None:
    return next((d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"), None)


def _active(service: dict[str, Any]) -> list[dict[str, Any]]:
    found = [d for d in service.get("deployments", []) if d.get("status") == "ACTIVE"]
    return sorted(found, key=lambda d: str(d.get("createdAt", "")), reverse=True)


def _completed(deployment: dict[str, Any]) -> bool:
    state = deployment.get("rolloutState")
    if state is not None:
        return bool(state == "COMPLETED")
    return bool(deployment.get("runningCount") == deployment.get("desiredCount"))


def phase_of(service: dict[str, Any]) -> tuple[Phase, str]:
    """The phase of a described service and a one-line reason (module docstring)."""
    primary = _primary(service)
    if primary is None:
        return Phase.UNKNOWN, "no PRIMARY deployment"
    wanted = revision_of(str(service.get("taskDefinition", "")))
    running = revision_of(str(primary.get("taskDefinition", "")))
    rollout = primary.get("rolloutState") or "?"
    active = _active(service)
    if primary.get("rolloutState") == "FAILED":
        why = primary.get("rolloutStateReason")
        return Phase.FAILED, f"PRIMARY {running} rollout FAILED: {why}"
    if any(d.get("rolloutState") == "FAILED" for d in active):
        return Phase.ROLLING_BACK, f"rolling back to {running} ({rollout})"
    if active or wanted != running or not _completed(primary):
        olds = ", ".join(revision_of(str(d.get("taskDefinition", ""))) for d in active)
        beside = f", ACTIVE {olds}" if olds else ""
        detail = f"service wants {wanted}, PRIMARY runs {running} ({rollout}){beside}"
        return Phase.ROLLING_OUT, detail
    return Phase.STABLE, f"PRIMARY {running} {rollout}"


class EcsExecutor:
    """Rolls back one ECS service. ``api`` replaces the boto3 client (tests of transitions
    moto does not model)."""

    name = NAME

    def __init__(
        self,
        target: AwsTarget,
        cluster: str,
        service: str,
        *,
        poll_interval: float = 5.0,
        api: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not cluster or not service:
            raise InputError("an ECS cluster and a service are needed", hint="name both")
        self.target = target
        self.cluster = cluster
        self.service = service
        self.poll_interval = poll_interval
        self._api = api
        self._clock = clock

    circuit_breaker_config = staticmethod(circuit_breaker_config)

    @property
    def api(self) -> Any:
        if self._api is None:
            self._api = client("ecs", self.target)
        return self._api

    @property
    def where(self) -> str:
        return f"{self.cluster}/{self.service}"

    def describe(self) -> dict[str, Any]:
        """The service as ``DescribeServices`` gives it; missing or inactive: AwsNotFound."""
        try:
            with aws_call(f"describe ECS service {self.where}", self.target):
                answer = self.api.describe_services(cluster=self.cluster, services=[self.service])
        except AwsError as error:
            if error.code in _NOT_FOUND:
                raise self._not_found(error.code) from error
            raise
        services = [s for s in answer.get("services", []) if s.get("status") != "INACTIVE"]
        if not services:
            reasons = ", ".join(str(f.get("reason")) for f in answer.get("failures", []))
            raise self._not_found(reasons or "INACTIVE")
        return dict(services[0])

    def _not_found(self, why: str) -> AwsNotFound:
        return AwsNotFound(
            f"ECS service {self.where} not found in {self.target.describe()} ({why})",
            hint="check the cluster and service names and the region (--region)",
        )

    def state(self) -> DeploymentState:
        service = self.describe()
        return self._state_of(service, self._previous(service))

    def _state_of(self, service: dict[str, Any], previous: str | None) -> DeploymentState:
        phase, detail = phase_of(service)
        return DeploymentState(
            executor=NAME,
            target=self.where,
            version=revision_of(str(service.get("taskDefinition", ""))) or None,
            previous=previous,
            phase=phase,
            detail=detail,
        )

    def _previous(self, service: dict[str, Any]) -> str | None:
        current = revision_of(str(service.get("taskDefinition", "")))
        for deployment in _active(service):
            other = revision_of(str(deployment.get("taskDefinition", "")))
            if other != current:
                return other
        split = _split(current)
        if split is None:
            return None
        family, revision = split
        with aws_call(f"list the task definitions of {family}", self.target):
            pages = self.api.get_paginator("list_task_definitions").paginate(
                familyPrefix=family, status="ACTIVE", sort="DESC"
            )
            arns = [arn for page in pages for arn in page.get("taskDefinitionArns", [])]
        older = [s for s in map(_split, arns) if s and s[0] == family and s[1] < revision]
        return f"{family}:{max(r for _, r in older)}" if older else None

    def deploy(self, task_definition: str) -> DeploymentState:
        """Start a deployment of ``task_definition`` (``family:revision`` or its ARN); returns
        the state right after ``UpdateService`` (ECS rolls it out in the background)."""
        self._require_task_definition(task_definition)
        with aws_call(f"deploy {task_definition} to {self.where}", self.target):
            self.api.update_service(
                cluster=self.cluster, service=self.service, taskDefinition=task_definition
            )
        return self.state()

    def enable_circuit_breaker(self, **percentages: int) -> dict[str, Any]:
        """Turn the deployment circuit breaker (with rollback) on; returns the configuration
        the service reports afterwards."""
        config = circuit_breaker_config(**percentages)
        with aws_call(f"enable the deployment circuit breaker of {self.where}", self.target):
            answer = self.api.update_service(
                cluster=self.cluster, service=self.service, deploymentConfiguration=config
            )
        return dict(answer.get("service", {}).get("deploymentConfiguration", {}))

    def _require_task_definition(self, task_definition: str) -> None:
        try:
            with aws_call(f"describe task definition {task_definition}", self.target):
                self.api.describe_task_definition(taskDefinition=task_definition)
        except AwsError as error:
            if error.code in {"ClientException", "InvalidParameterException"}:
                raise AwsNotFound(
                    f"task definition {task_definition} is not registered ({error.code})",
                    hint="register it first, or name an existing family:revision",
                ) from error
            raise

    def rollback(self, reason: str, *, timeout: float = 1800.0) -> RollbackOutcome:
        """Update the service to the previous task definition and wait until the PRIMARY
        deployment runs it to completion (or the circuit breaker's own rollback ends)."""
        started = self._clock()
        service = self.describe()
        state = self._state_of(service, self._previous(service))
        if state.phase is Phase.ROLLING_BACK:
            goal = revision_of(str((_primary(service) or {}).get("taskDefinition", "")))
            how = "the deployment circuit breaker's rollback"
        elif state.previous is None:
            raise RollbackRefused(
                f"ECS service {self.where} has no previous task definition to roll back to "
                f"(it runs {state.version})",
                state,
                hint="register and deploy a known-good revision instead",
            )
        else:
            goal = state.previous
            how = f"UpdateService to {goal}"
            try:
                with aws_call(f"roll {self.where} back to {goal}", self.target):
                    self.api.update_service(
                        cluster=self.cluster, service=self.service, taskDefinition=goal
                    )
            except (AwsError, InputError) as error:
                raise RollbackError(str(error), self._read_or(state), hint=error.hint) from error
        rolling = replace(state, phase=Phase.ROLLING_BACK, previous=state.version)
        final = self._wait(goal, started, timeout, rolling)
        return RollbackOutcome(True, final, started, self._clock(), f"{how} ({reason})")

    def _read_or(self, fallback: DeploymentState) -> DeploymentState:
        try:
            return self.state()
        except (AwsError, InputError):
            return fallback

    def _wait(
        self, goal: str, started: float, timeout: float, last: DeploymentState
    ) -> DeploymentState:
        deadline = time.monotonic() + max(0.0, timeout - (self._clock() - started))
        while True:
            try:
                service = self.describe()
            except (AwsError, InputError) as error:
                raise RollbackError(
                    f"lost track of ECS service {self.where} during its rollback: {error}",
                    last,
                    hint="check the service's deployments with `aws ecs describe-services`",
                ) from error
            primary = _primary(service) or {}
            phase, detail = phase_of(service)
            last = replace(
                last,
                version=revision_of(str(service.get("taskDefinition", ""))) or None,
                detail=detail,
            )
            runs_goal = revision_of(str(primary.get("taskDefinition", ""))) == goal
            if phase is Phase.FAILED:
                raise RollbackError(
                    f"the rollback of {self.where} to {goal} failed: {detail}",
                    replace(last, phase=Phase.FAILED),
                    hint="read the service events (`aws ecs describe-services`)",
                )
            if runs_goal and phase is Phase.STABLE:
                return replace(last, phase=Phase.ROLLED_BACK)
            if time.monotonic() >= deadline:
                raise RollbackError(
                    f"ECS service {self.where} not rolled back to {goal} after {timeout:g} s: "
                    f"{detail}",
                    last,
                    hint="ECS goes on deploying; follow it with `aws ecs describe-services`",
                )
            time.sleep(min(self.poll_interval, max(0.0, deadline - time.monotonic())))

"""Ready-made recorders for the plan's events: deployments, validations, rollbacks, chaos.

Each records a business metric through :mod:`ial_resilience.observability.metrics` (so it
lands in EMF, Prometheus and the store alike). Metric names:

| call | metric (dimensions) |
|---|---|
| ``deployment(stack, DeploymentStatus.STARTED)`` | ``deployment.started`` (stack, …) |
| ``deployment(stack, SUCCEEDED, duration_s=…)`` | ``deployment.succeeded``, ``…duration`` |
| ``deployment(stack, FAILED)`` | ``deployment.failed`` |
| ``validation(check, passed)`` | ``validation.passed`` / ``validation.failed`` (check) |
| ``rollback(stack, reason)`` | ``rollback.count`` (stack, reason) |
| ``chaos_result(exp, status, time_to_recover_s=…)`` | ``chaos.<status>``, ``…time_to_recover`` |
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from ial_resilience.observability import metrics


class DeploymentStatus(StrEnum):
    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


def deployment(
    stack: str, status: DeploymentStatus, *, duration_s: float | None = None, **dims: Any
) -> None:
    metrics.count(f"deployment.{status.value}", stack=stack, **dims)
    if duration_s is not None and status is not DeploymentStatus.STARTED:
        metrics.timing("deployment.duration", duration_s * 1000, stack=stack, **dims)


def validation(check: str, passed: bool, **dims: Any) -> None:
    metrics.count("validation.passed" if passed else "validation.failed", check=check, **dims)


def rollback(stack: str, reason: str, **dims: Any) -> None:
    metrics.count("rollback.count", stack=stack, reason=reason, **dims)


def chaos_result(
    experiment: str, status: str, *, time_to_recover_s: float | None = None, **dims: Any
) -> None:
    metrics.count(f"chaos.{status}", experiment=experiment, **dims)
    if time_to_recover_s is not None:
        metrics.timing(
            "chaos.time_to_recover", time_to_recover_s * 1000, experiment=experiment, **dims
        )

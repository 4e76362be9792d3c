"""Rollback: deployments that roll back by themselves (docs/INTERFACES.md §10)."""

from ial_resilience.rollback.model import (
    DeploymentState,
    Phase,
    RollbackError,
    RollbackExecutor,
    RollbackOutcome,
    RollbackRefused,
)

__all__ = [
    "DeploymentState",
    "Phase",
    "RollbackError",
    "RollbackExecutor",
    "RollbackOutcome",
    "RollbackRefused",
]

"""What every rollback executor speaks (docs/INTERFACES.md §10).

An executor reads the real deployment (lab control plane, CloudFormation stack, ECS service)
and rolls it back; it never guesses a state. ``RollbackError`` and ``RollbackRefused`` always
carry the state that is known, so no half-rolled deployment goes unreported.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Protocol

from ial_resilience.errors import ProviderError, SafetyRefusal


class Phase(StrEnum):
    STABLE = "stable"
    ROLLING_OUT = "rolling_out"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class DeploymentState:
    executor: str
    target: str
    version: str | None
    previous: str | None
    phase: Phase
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "phase": self.phase.value}


@dataclass(frozen=True, slots=True)
class RollbackOutcome:
    ok: bool
    state: DeploymentState
    started_at: float
    ended_at: float
    detail: str = ""

    @property
    def duration_s(self) -> float:
        return self.ended_at - self.started_at

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "state": self.state.to_json(),
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration_s": self.duration_s,
            "detail": self.detail,
        }


class RollbackExecutor(Protocol):
    name: str

    def state(self) -> DeploymentState: ...

    def rollback(self, reason: str, *, timeout: float) -> RollbackOutcome: ...


class RollbackError(ProviderError):
    """The rollback failed or timed out; ``state`` is what the executor read last."""

    def __init__(self, message: str, state: DeploymentState, *, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.state = state


class RollbackRefused(SafetyRefusal):
    """The target cannot roll back from where it is; nothing was changed."""

    def __init__(self, message: str, state: DeploymentState, *, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.state = state

"""The engine's typed vocabulary: statuses, phases, events, planned and applied faults.

Everything here is frozen; JSON forms are produced by :mod:`ial_resilience.engine.journal`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ial_resilience.errors import ExitCode


class RunStatus(StrEnum):
    PASSED = "passed"
    DEVIATED = "deviated"
    ABORTED = "aborted"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"

    @property
    def exit_code(self) -> ExitCode:
        return _EXIT[self]


_EXIT = {
    RunStatus.PASSED: ExitCode.PASSED,
    RunStatus.DEVIATED: ExitCode.DEVIATED,
    RunStatus.ABORTED: ExitCode.ABORTED,
    RunStatus.INCONCLUSIVE: ExitCode.INCONCLUSIVE,
    RunStatus.ERROR: ExitCode.PROVIDER_ERROR,
}


class Phase(StrEnum):
    VALIDATE = "validate"
    SAFETY = "safety"
    PLAN = "plan"
    STEADY_STATE_BEFORE = "steady-state-before"
    LEDGER = "ledger"
    METHOD = "method"
    REVERT = "revert"
    RECOVERY = "recovery"
    STEADY_STATE_AFTER = "steady-state-after"
    JOURNAL = "journal"


class EventKind(StrEnum):
    PHASE_START = "phase-start"
    PHASE_END = "phase-end"
    FAULT_APPLIED = "fault-applied"
    FAULT_REVERTED = "fault-reverted"
    FAULT_FAILED = "fault-failed"
    PROVIDER_FAILED = "provider-failed"  # the provider died (or failed) outside one fault
    GUARDRAIL_BREACH = "guardrail-breach"
    INTERRUPTED = "interrupted"
    HYPOTHESIS = "hypothesis"
    NOTE = "note"


class RevertReason(StrEnum):
    DURATION_ENDED = "duration-ended"
    GUARDRAIL = "guardrail"
    INTERRUPTED = "interrupted"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Event:
    phase: Phase
    kind: EventKind
    message: str
    t_wall: float
    t_mono: float
    data: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def now(
        cls, phase: Phase, kind: EventKind, message: str, data: Mapping[str, Any] | None = None
    ) -> Event:
        return cls(phase, kind, message, time.time(), time.monotonic(), dict(data or {}))


@dataclass(frozen=True, slots=True)
class PlannedFault:
    """One method step as the engine will carry it out.

    ``key`` is unique in the run (``<run-id>-s<index>``); providers derive the ids of whatever
    they create from it, so the ledger can name them before they exist.
    """

    index: int
    key: str
    fault: str
    target: str
    target_detail: str
    params: Mapping[str, Any]
    after: float
    duration: float
    direction: str = "both"
    toxicity: float = 1.0
    params_model: Any = field(default=None, compare=False, repr=False)
    """The spec's parameter model (providers translate it, e.g. ``agent_attributes()``)."""

    @property
    def end(self) -> float:
        return self.after + self.duration


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the provider observed about a fault. ``landed`` None means "cannot tell"."""

    landed: bool | None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AppliedFault:
    planned: PlannedFault
    provider: str
    mechanism: str
    handles: tuple[str, ...]
    applied_wall: float
    applied_mono: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    """A target as the provider sees it; ``replicas``/``touched`` feed the blast-radius check."""

    name: str
    kind: str
    detail: str
    replicas: int | None = None
    touched: int | None = None


@dataclass(frozen=True, slots=True)
class FaultOutcome:
    """The end state of one planned fault, for the journal and the summary."""

    planned: PlannedFault
    applied: AppliedFault | None
    evidence: Evidence | None
    revert_reason: RevertReason | None
    reverted_mono: float | None
    error: str | None = None
    apply_unconfirmed: bool = False
    """The apply raised without proving that nothing was applied (its answer never came)."""

    @property
    def revert_confirmed(self) -> bool | None:
        """True when the provider confirmed the revert; False when it could not, or when an
        apply's fate is unknown (the ledger keeps the fault pending for ``ialr chaos cleanup``);
        None when nothing was applied."""
        if self.applied is None:
            return False if self.apply_unconfirmed else None
        return self.revert_reason is not None and self.error is None

"""What a run accumulates phase by phase (:class:`RunRecord`), its options and result, and the
rules that turn a record into a status."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ial_resilience.engine import safety
from ial_resilience.engine.hypothesis import Verdict
from ial_resilience.engine.model import Event, FaultOutcome, RevertReason, RunStatus
from ial_resilience.engine.plan import Plan
from ial_resilience.engine.samples import DEFAULT_CAP, SampleRecorder
from ial_resilience.engine.sampling import Breach, RecoveryResult


@dataclass(frozen=True)
class RunOptions:
    state_dir: Path
    journal_path: Path | None = None
    experiment_file: Path | None = None
    dry_run: bool = False
    allow_production: bool = False
    policy: safety.Policy = field(default_factory=safety.Policy)
    system: str = "local"
    run_id: str | None = None
    sample_cap: int = DEFAULT_CAP


@dataclass
class RunRecord:
    """Everything the journal needs, filled in phase by phase."""

    plan: Plan
    options: RunOptions
    t0_mono: float
    t0_wall: float
    events: list[Event] = field(default_factory=list)
    recorders: dict[str, SampleRecorder] = field(default_factory=dict)
    before: list[Verdict] = field(default_factory=list)
    during: list[Verdict] = field(default_factory=list)
    after: list[Verdict] = field(default_factory=list)
    recovery: RecoveryResult | None = None
    outcomes: dict[int, FaultOutcome] = field(default_factory=dict)
    breach: Breach | None = None
    time_to_abort_ms: float | None = None
    status: RunStatus | None = None
    reason: str = ""
    complete: bool = False
    interrupted: bool = False
    error: str | None = None
    dropped_events: int = 0
    ended_wall: float | None = None


@dataclass(frozen=True)
class RunResult:
    status: RunStatus
    reason: str
    plan: Plan
    journal: dict[str, Any]
    journal_path: Path | None


def time_to_abort_ms(record: RunRecord, reason: RevertReason) -> float | None:
    """From the breach's detection (first breaching sample evaluated) to every fault reverted."""
    if reason is not RevertReason.GUARDRAIL or record.breach is None:
        return None
    reverted = [o.reverted_mono for o in record.outcomes.values() if o.reverted_mono]
    if not reverted:
        return 0.0
    return max(0.0, (max(reverted) - record.breach.detected_mono) * 1000.0)


def decide_status(record: RunRecord) -> tuple[RunStatus, str]:
    """error > aborted > deviated > inconclusive > passed; the reason says why."""
    if record.error is not None:
        return RunStatus.ERROR, f"provider error: {record.error}; {_left_behind(record)}"
    if record.interrupted:
        return RunStatus.ABORTED, "interrupted (Ctrl-C/SIGTERM); every applied fault reverted"
    if record.breach is not None:
        return RunStatus.ABORTED, f"guardrail breached: {record.breach.verdict.describe()}"
    failed_before = [v for v in record.before if not v.holds]
    if failed_before:
        text = "; ".join(v.describe() for v in failed_before)
        return (
            RunStatus.DEVIATED,
            f"steady state did not hold BEFORE the faults (none injected): {text}",
        )
    deviations = _deviations(record)
    if deviations:
        return RunStatus.DEVIATED, "; ".join(deviations)
    not_landed = [o for o in record.outcomes.values() if o.evidence and o.evidence.landed is False]
    if not_landed:
        names = ", ".join(f"{o.planned.fault} on {o.planned.target}" for o in not_landed)
        return RunStatus.INCONCLUSIVE, f"no evidence that these faults had an effect: {names}"
    return RunStatus.PASSED, "the steady state held before, during and after the faults"


def _left_behind(record: RunRecord) -> str:
    """After a provider error: which faults the provider could not confirm ended."""
    unconfirmed = [o for o in record.outcomes.values() if o.revert_confirmed is False]
    if unconfirmed:
        names = ", ".join(f"{o.planned.fault} on {o.planned.target}" for o in unconfirmed)
    elif any(o.applied is not None for o in record.outcomes.values()):
        return "every applied fault was reverted"
    else:
        return "no fault was applied"
    them = "it" if len(unconfirmed) == 1 else "them"
    return (
        f"the provider could not confirm that {names} ended, so the ledger keeps {them}"
        f" pending: run `ialr chaos cleanup` (it reverts what is still applied, or marks {them}"
        " ended when the agent is gone)"
    )


def _deviations(record: RunRecord) -> list[str]:
    reasons = [f"during the faults: {v.describe()}" for v in record.during if not v.holds]
    if record.recovery is not None and not record.recovery.recovered:
        reasons.append(f"not recovered within {record.plan.recovery_within:g}s (recovery budget)")
    reasons += [f"after the faults: {v.describe()}" for v in record.after if not v.holds]
    return reasons

"""Game-day KPIs: chaos pass rate, time to recover per experiment (MTTR), availability.

Pure functions of the experiment outcomes and the traffic counts, so they are exact and
testable without a lab. The worst status decides the exit code (error › aborted › deviated ›
inconclusive › passed), as for a single run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ial_resilience.engine.model import RunStatus
from ial_resilience.errors import ExitCode
from ial_resilience.gameday.outcome import ExperimentOutcome

SEVERITY = (
    RunStatus.PASSED,
    RunStatus.INCONCLUSIVE,
    RunStatus.DEVIATED,
    RunStatus.ABORTED,
    RunStatus.ERROR,
)


def worst_status(statuses: Sequence[RunStatus]) -> RunStatus:
    """The most severe status; PASSED for an empty game day would hide nothing ran: ERROR."""
    if not statuses:
        return RunStatus.ERROR
    return max(statuses, key=SEVERITY.index)


def exit_code(statuses: Sequence[RunStatus]) -> ExitCode:
    return worst_status(statuses).exit_code


def pass_rate(outcomes: Sequence[ExperimentOutcome]) -> float | None:
    if not outcomes:
        return None
    return sum(1 for o in outcomes if o.passed) / len(outcomes)


@dataclass(frozen=True, slots=True)
class Mttr:
    per_experiment: dict[str, float | None]
    mean_s: float | None
    worst_s: float | None
    not_recovered: tuple[str, ...]


def mttr(outcomes: Sequence[ExperimentOutcome]) -> Mttr:
    """Time to recover per experiment (journal ``time_to_recover_s``; None = not recovered or
    no fault applied); mean and worst over those that recovered."""
    per = {o.title: o.time_to_recover_s for o in outcomes}
    measured = [v for v in per.values() if v is not None]
    not_recovered = tuple(
        o.title for o in outcomes if o.time_to_recover_s is None and o.faults and o.abort_at is None
    )
    return Mttr(
        per_experiment=per,
        mean_s=sum(measured) / len(measured) if measured else None,
        worst_s=max(measured) if measured else None,
        not_recovered=not_recovered,
    )


def availability(ok: int, total: int) -> float | None:
    return ok / total if total else None


def during_faults(outcome: ExperimentOutcome) -> tuple[int, int]:
    """(ok, total) requests scheduled while at least one fault was active."""
    timeline = outcome.timeline
    ok = total = 0
    for bucket in timeline.buckets:
        middle = bucket.start + timeline.width / 2
        if any(w.start <= middle <= (w.end or outcome.ended_at) for w in outcome.faults):
            ok, total = ok + bucket.ok, total + bucket.requests
    return ok, total


def kpis(outcomes: Sequence[ExperimentOutcome], day_ok: int, day_total: int) -> dict[str, Any]:
    """The KPI block of report.json."""
    recovery = mttr(outcomes)
    fault_ok = fault_total = 0
    for outcome in outcomes:
        ok, total = during_faults(outcome)
        fault_ok, fault_total = fault_ok + ok, fault_total + total
    statuses = [o.status for o in outcomes]
    return {
        "experiments": len(outcomes),
        "passed": sum(1 for o in outcomes if o.passed),
        "chaos_pass_rate": pass_rate(outcomes),
        "by_status": {s.value: statuses.count(s) for s in SEVERITY if s in statuses},
        "mttr_s": recovery.per_experiment,
        "mttr_mean_s": recovery.mean_s,
        "mttr_worst_s": recovery.worst_s,
        "not_recovered": list(recovery.not_recovered),
        "availability": availability(day_ok, day_total),
        "availability_during_faults": availability(fault_ok, fault_total),
        "requests": day_total,
        "requests_failed": day_total - day_ok,
        "worst_status": worst_status(statuses).value,
        "exit_code": int(exit_code(statuses)),
    }

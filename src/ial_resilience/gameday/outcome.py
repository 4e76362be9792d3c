"""One experiment of a game day as the report sees it: the journal's facts on the wall clock,
its traffic timeline, and findings (evidence that each fault landed, the breaker's states,
the recovery time users saw after a failover)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ial_resilience.engine.model import RunStatus
from ial_resilience.gameday.timeline import Request, Timeline, build_timeline, users_rto

BREAKER_OPEN = 2.0
BREAKER_CLOSED = 0.0


@dataclass(frozen=True, slots=True)
class FaultWindow:
    fault: str
    target: str
    start: float
    end: float | None
    landed: bool | None
    revert_reason: str | None
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExperimentOutcome:
    index: int
    title: str
    file: str
    journal: str
    status: RunStatus
    reason: str
    started_at: float
    ended_at: float
    faults: tuple[FaultWindow, ...]
    abort_at: float | None
    recovered_at: float | None
    time_to_recover_s: float | None
    recovery_within_s: float | None
    timeline: Timeline
    findings: Mapping[str, Any]
    alerts: tuple[Mapping[str, Any], ...] = ()  # gameday.alerts.per_experiment

    @property
    def passed(self) -> bool:
        return self.status is RunStatus.PASSED


def fault_windows(journal: Mapping[str, Any]) -> tuple[FaultWindow, ...]:
    started = float(journal.get("started_at") or 0.0)
    windows = []
    for fault in journal.get("faults", []):
        if not fault.get("applied"):
            continue
        reverted_t = fault.get("reverted_t")
        evidence = dict(fault.get("evidence") or {})
        windows.append(
            FaultWindow(
                fault=str(fault["fault"]),
                target=str(fault["target"]),
                start=_began(float(fault["applied_at"]), evidence),
                end=started + float(reverted_t) if reverted_t is not None else None,
                landed=fault.get("landed"),
                revert_reason=fault.get("revert_reason"),
                evidence=evidence,
            )
        )
    return tuple(windows)


def _began(applied_at: float, evidence: Mapping[str, Any]) -> float:
    """When the fault really began: the journal's ``applied_at`` is taken once the provider's
    apply returned, so a slow apply (a failover: promote, then repoint) began earlier; the
    provider's evidence says when (``started_at``)."""
    started = evidence.get("started_at")
    if isinstance(started, int | float) and 0 < applied_at - float(started) < 60.0:
        return float(started)
    return applied_at


def _marks(journal: Mapping[str, Any], faults: Sequence[FaultWindow]) -> tuple[float | None, ...]:
    started = float(journal.get("started_at") or 0.0)
    breach = journal.get("guardrail_breach")
    abort_at = started + float(breach["detected_t"]) if breach else None
    ttr = journal.get("time_to_recover_s")
    ends = [w.end for w in faults if w.end is not None]
    recovered_at = max(ends) + float(ttr) if ttr is not None and ends else None
    return abort_at, recovered_at


def probe_samples(journal: Mapping[str, Any], word: str) -> dict[str, list[dict[str, Any]]]:
    """Samples of every probe whose label contains ``word`` (e.g. ``breaker``)."""
    return {
        label: list(data.get("samples", []))
        for label, data in (journal.get("samples") or {}).items()
        if word in label
    }


def breaker_findings(journal: Mapping[str, Any]) -> dict[str, Any] | None:
    """Did a breaker probe see the breaker open during the faults and closed at the end?"""
    samples = probe_samples(journal, "breaker")
    if not samples:
        return None
    during = [s for label, ss in samples.items() if label.startswith("probes") for s in ss]
    steady = [ss for label, ss in samples.items() if label.startswith("steady_state")]
    opened = [s for s in during if (s.get("value") or 0.0) >= BREAKER_OPEN]
    last_values = [ss[-1].get("value") for ss in steady if ss]
    return {
        "opened": bool(opened),
        "opened_after_s": min((float(s["t"]) for s in opened), default=None),
        "closed_after": bool(last_values) and all(v == BREAKER_CLOSED for v in last_values),
        "samples_during": len(during),
    }


def findings(journal: Mapping[str, Any], requests: Sequence[Request]) -> dict[str, Any]:
    faults = fault_windows(journal)
    result: dict[str, Any] = {
        "every_fault_landed": bool(faults) and all(w.landed is True for w in faults),
        "faults_landed": [
            {"fault": w.fault, "target": w.target, "landed": w.landed} for w in faults
        ],
    }
    failover = next((w for w in faults if w.fault == "db.failover"), None)
    if failover is not None:
        result["failover_users_rto_s"] = users_rto(requests, failover.start)
    kills = [w for w in faults if w.fault == "process.kill"]
    if kills:
        result["killed"] = [_kill_facts(w) for w in kills]
    breaker = breaker_findings(journal)
    if breaker is not None:
        result["breaker"] = breaker
    return result


def _kill_facts(window: FaultWindow) -> dict[str, Any]:
    reports = list(window.evidence.get("agent_faults") or [])
    return {
        "target": window.target,
        "pids": [r.get("pid") for r in reports],
        "exit_observed": all(bool(r.get("exit_observed")) for r in reports) and bool(reports),
        "respawned_pids": [r.get("respawned_pid") for r in reports if r.get("respawned_pid")],
    }


def build_outcome(
    index: int,
    journal: Mapping[str, Any],
    journal_path: str,
    requests: Sequence[Request],
    extra: Mapping[str, Any] | None = None,
) -> ExperimentOutcome:
    """The report's view of one run; ``extra`` findings (e.g. lab restarts) are merged in."""
    started = float(journal.get("started_at") or 0.0)
    ended = float(journal.get("ended_at") or started)
    faults = fault_windows(journal)
    abort_at, recovered_at = _marks(journal, faults)
    recovery = journal.get("recovery") or {}
    experiment = journal.get("experiment") or {}
    return ExperimentOutcome(
        index=index,
        title=str(experiment.get("title", "")),
        file=str(experiment.get("file") or ""),
        journal=journal_path,
        status=RunStatus(journal.get("status") or RunStatus.ERROR.value),
        reason=str(journal.get("reason", "")),
        started_at=started,
        ended_at=ended,
        faults=faults,
        abort_at=abort_at,
        recovered_at=recovered_at,
        time_to_recover_s=journal.get("time_to_recover_s"),
        recovery_within_s=recovery.get("within_s")
        or journal.get("plan", {}).get("recovery_within_s"),
        timeline=build_timeline(requests, started, max(ended, started + 1.0)),
        findings={**findings(journal, requests), **dict(extra or {})},
    )

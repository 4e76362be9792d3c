"""The run journal: one JSON document per run (schema ``ialr.journal/1``, docs/JOURNAL.md).

Written atomically: a temporary file in the same directory, fsync, rename, fsync of the
directory. A journal written before the run ended carries ``"complete": false``.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ial_resilience.engine.hypothesis import Verdict
from ial_resilience.engine.model import Event, FaultOutcome, PlannedFault
from ial_resilience.errors import InputError

if TYPE_CHECKING:
    from ial_resilience.engine.record import RunRecord

SCHEMA = "ialr.journal/1"


def default_path(run_id: str, base: Path | None = None) -> Path:
    """``journals/<run-id>.json`` (the run id starts with a UTC timestamp and the slug)."""
    return (base or Path("journals")) / f"{run_id}.json"


def write_atomic(path: Path, document: Mapping[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, separators=(",", ":"), default=str)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as error:
        raise InputError(
            f"cannot write the journal {path}: {error.strerror}",
            hint="choose a writable path with --journal",
        ) from error


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    return {
        "name": verdict.name,
        "holds": verdict.holds,
        "samples": verdict.count,
        "checks": [
            {"statistic": c.statistic, "expected": c.expected, "actual": c.actual, "holds": c.holds}
            for c in verdict.checks
        ],
    }


def planned_json(planned: PlannedFault) -> dict[str, Any]:
    return {
        "index": planned.index,
        "key": planned.key,
        "fault": planned.fault,
        "target": planned.target,
        "target_detail": planned.target_detail,
        "params": dict(planned.params),
        "after_s": planned.after,
        "duration_s": planned.duration,
        "direction": planned.direction,
        "toxicity": planned.toxicity,
    }


def outcome_json(outcome: FaultOutcome | None, planned: PlannedFault, t0: float) -> dict[str, Any]:
    record: dict[str, Any] = {**planned_json(planned), "applied": False}
    if outcome is None:
        return {**record, "note": "not applied (the run stopped before its offset)"}
    applied, evidence = outcome.applied, outcome.evidence
    if applied is not None:
        record.update(
            applied=True,
            provider=applied.provider,
            mechanism=applied.mechanism,
            handles=list(applied.handles),
            applied_at=applied.applied_wall,
            applied_t=round(applied.applied_mono - t0, 6),
            expires_at=applied.expires_at,
        )
    if outcome.reverted_mono is not None:
        record["reverted_t"] = round(outcome.reverted_mono - t0, 6)
    record["revert_reason"] = outcome.revert_reason.value if outcome.revert_reason else None
    record["revert_confirmed"] = outcome.revert_confirmed
    record["landed"] = evidence.landed if evidence else None
    record["evidence"] = dict(evidence.details) if evidence else None
    record["error"] = outcome.error
    return record


def event_json(event: Event, t0: float) -> dict[str, Any]:
    return {
        "t": round(event.t_mono - t0, 6),
        "wall": round(event.t_wall, 6),
        "phase": event.phase.value,
        "kind": event.kind.value,
        "message": event.message,
        "data": dict(event.data),
    }


def build(record: RunRecord) -> dict[str, Any]:
    """The journal document of ``record`` as it stands (complete or not)."""
    plan, options, t0 = record.plan, record.options, record.t0_mono
    recovery = record.recovery
    breach = record.breach
    return {
        "schema": SCHEMA,
        "complete": record.complete,
        "run_id": plan.run_id,
        "experiment": experiment_json(plan.title, options.experiment_file, plan.environment),
        "provider": plan.provider,
        "status": record.status.value if record.status else None,
        "reason": record.reason,
        "exit_code": int(record.status.exit_code) if record.status else None,
        "started_at": record.t0_wall,
        "ended_at": record.ended_wall,
        "written_at": time.time(),
        "plan": {
            "faults": [planned_json(f) for f in plan.faults],
            "steady_state": list(plan.steady_state),
            "probes": list(plan.probes),
            "guardrails": list(plan.guardrails),
            "recovery_within_s": plan.recovery_within,
            "method_duration_s": plan.method_duration,
        },
        "hypothesis": {
            "before": [verdict_json(v) for v in record.before],
            "during": [verdict_json(v) for v in record.during],
            "after": [verdict_json(v) for v in record.after],
        },
        "faults": [outcome_json(record.outcomes.get(f.index), f, t0) for f in plan.faults],
        "guardrail_breach": None
        if breach is None
        else {
            "guardrail": breach.label,
            "detected_t": round(breach.detected_mono - t0, 6),
            "verdict": verdict_json(breach.verdict),
        },
        "time_to_abort_ms": record.time_to_abort_ms,
        "recovery": None
        if recovery is None
        else {
            "recovered": recovery.recovered,
            "time_to_recover_s": recovery.time_to_recover,
            "within_s": plan.recovery_within,
            "last_verdicts": [verdict_json(v) for v in recovery.verdicts],
        },
        "time_to_recover_s": recovery.time_to_recover if recovery else None,
        "samples": {label: r.to_json() for label, r in record.recorders.items()},
        "events": [event_json(e, t0) for e in record.events],
        "observer_errors": record.dropped_events,
    }


def experiment_json(title: str, file: Path | None, environment: str) -> dict[str, Any]:
    sha = None
    if file is not None:
        import hashlib

        try:
            sha = hashlib.sha256(file.read_bytes()).hexdigest()
        except OSError:
            sha = None
    return {
        "title": title,
        "file": str(file) if file else None,
        "sha256": sha,
        "environment": environment,
    }


def summary(document: Mapping[str, Any], path: Path | None) -> dict[str, Any]:
    """The short form ``--json`` prints: status, reasons, faults with their evidence."""
    return {
        "schema": document.get("schema"),
        "run_id": document.get("run_id"),
        "experiment": document.get("experiment", {}).get("title"),
        "status": document.get("status"),
        "exit_code": document.get("exit_code"),
        "reason": document.get("reason"),
        "complete": document.get("complete"),
        "journal": str(path) if path else None,
        "time_to_abort_ms": document.get("time_to_abort_ms"),
        "time_to_recover_s": document.get("time_to_recover_s"),
        "hypothesis": {
            phase: [{"name": v["name"], "holds": v["holds"]} for v in verdicts]
            for phase, verdicts in document.get("hypothesis", {}).items()
        },
        "faults": [
            {
                k: f.get(k)
                for k in (
                    "fault",
                    "target",
                    "applied",
                    "mechanism",
                    "landed",
                    "evidence",
                    "revert_reason",
                    "revert_confirmed",
                    "error",
                )
            }
            for f in document.get("faults", [])
        ],
    }

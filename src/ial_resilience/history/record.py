"""Turning what a command produced into history records, and storing them (INTERFACES §8).

One function per kind of result; the commands call :func:`save`, which never changes their
outcome: a history that cannot be written is a warning on stderr, not a failed run.
:func:`import_paths` reads results already on disk (journals, game-day report.json files,
drill JSONs) into the store; ids already present are skipped.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ial_resilience.engine.plan import slug
from ial_resilience.errors import IalrError, InputError
from ial_resilience.history.model import Figure, Record, RecordKind
from ial_resilience.history.store import HistoryStore

JOURNAL_SCHEMA = "ialr.journal/1"


def family(fault: str) -> str:
    """The fault family: ``network.latency`` → ``network``."""
    return fault.split(".", 1)[0]


def _landed(faults: Sequence[Mapping[str, Any]]) -> bool | None:
    applied = [f for f in faults if f.get("applied")]
    if not applied:
        return None
    return all(f.get("landed") is not False for f in applied)


def record_journal(
    journal: Mapping[str, Any], path: Path | str | None = None, *, parent_id: str | None = None
) -> Record:
    """A chaos run. An incomplete journal (the run was killed) is never a pass: its status is
    kept if it says more than "passed", else it is recorded as ``incomplete``."""
    if journal.get("schema") != JOURNAL_SCHEMA or "run_id" not in journal:
        raise InputError(
            f"{path or 'the document'} is not a run journal ({JOURNAL_SCHEMA} with a run_id)",
            hint="import journals, game-day report.json files or drill results",
        )
    experiment = journal.get("experiment") or {}
    title = str(experiment.get("title") or journal["run_id"])
    complete = bool(journal.get("complete"))
    status = str(journal.get("status") or "error")
    if not complete and status == "passed":
        status = "incomplete"
    faults = list(journal.get("faults") or [])
    names = [str(f.get("fault")) for f in faults if f.get("fault")]
    figures: dict[str, Figure] = {
        "passed": complete and status == "passed",
        "time_to_recover_s": journal.get("time_to_recover_s"),
        "time_to_abort_ms": journal.get("time_to_abort_ms"),
        "landed": _landed(faults),
        "faults": len(faults),
    }
    return Record(
        id=str(journal["run_id"]),
        kind=RecordKind.CHAOS_RUN,
        key=slug(title),
        title=title,
        status=status,
        started_at=float(journal.get("started_at") or 0.0),
        ended_at=journal.get("ended_at"),
        environment=str(experiment.get("environment") or "local"),
        provider=str(journal.get("provider") or "local"),
        parent_id=parent_id,
        source=None if path is None else str(path),
        figures=figures,
        data={
            "faults": names,
            "families": sorted({family(n) for n in names}),
            "reason": journal.get("reason", ""),
            "complete": complete,
            "file": experiment.get("file"),
        },
    )


def gameday_id(report: Mapping[str, Any]) -> str:
    started = float(report.get("started_at") or 0.0)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))
    return f"gameday-{stamp}-{slug(str(report.get('title') or 'suite'))}"


def record_gameday(report: Mapping[str, Any], path: Path | str | None = None) -> list[Record]:
    """The game day and, with it as parent, each experiment's run (from its journal)."""
    if "experiments" not in report or "kpis" not in report:
        raise InputError(f"{path or 'the document'} is not a game-day report.json")
    kpis = report["kpis"]
    day = gameday_id(report)
    title = str(report.get("title") or "game day")
    records = [
        Record(
            id=day,
            kind=RecordKind.GAMEDAY,
            key=slug(title),
            title=title,
            status=str(kpis.get("worst_status") or "error"),
            started_at=float(report.get("started_at") or 0.0),
            ended_at=report.get("ended_at"),
            environment="lab",
            provider="local",
            source=None if path is None else str(path),
            figures={
                "availability": kpis.get("availability"),
                "availability_during_faults": kpis.get("availability_during_faults"),
                "requests": kpis.get("requests"),
                "failed_requests": kpis.get("requests_failed"),
                "chaos_pass_rate": kpis.get("chaos_pass_rate"),
                "mttr_s": kpis.get("mttr_mean_s"),
                "alert_accuracy": kpis.get("alert_accuracy"),
                "alert_false_positive_rate": kpis.get("alert_false_positive_rate"),
                "experiments": kpis.get("experiments"),
            },
            data={"suite": report.get("suite"), "quick": report.get("quick")},
        )
    ]
    evaluated = bool((report.get("alerts") or {}).get("evaluated"))
    for experiment in report["experiments"]:
        journal = _read_json(experiment.get("journal"))
        if journal is not None and journal.get("schema") == JOURNAL_SCHEMA:
            run = record_journal(journal, experiment.get("journal"), parent_id=day)
            if evaluated:  # alerting ran all day: how many alerts this experiment drew
                fired = len(experiment.get("alerts") or [])
                run = dataclasses.replace(run, data={**run.data, "alerts_fired": fired})
            records.append(run)
    alerts = (report.get("alerts") or {}).get("accuracy") or {}
    overall = alerts.get("overall")
    if overall:
        records.append(
            _accuracy(
                f"{day}-alerts", overall, records[0].started_at, records[0].ended_at, day, title
            )
        )
    return records


def _accuracy(
    record_id: str,
    overall: Mapping[str, Any],
    started: float,
    ended: float | None,
    parent_id: str | None,
    title: str,
) -> Record:
    accuracy, fpr = overall.get("accuracy"), overall.get("false_positive_rate")
    met = accuracy is not None and accuracy > 0.9 and (fpr is None or fpr < 0.05)
    return Record(
        id=record_id,
        kind=RecordKind.ALERT_ACCURACY,
        key=slug(title),
        title=f"alert accuracy: {title}",
        status="passed" if met else "failed",
        started_at=started,
        ended_at=ended,
        environment="lab" if parent_id else "local",
        parent_id=parent_id,
        figures={
            "accuracy": accuracy,
            "false_positive_rate": fpr,
            "precision": overall.get("precision"),
            "recall": overall.get("recall"),
            "windows": overall.get("windows"),
            "detected": overall.get("detected"),
            "mean_time_to_detect_s": overall.get("mean_time_to_detect_s"),
        },
    )


def record_accuracy(overall: Mapping[str, Any], *, started: float, title: str) -> Record:
    """An ``ialr alerts accuracy`` run: ``overall`` is every rule's alerts merged."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))
    return _accuracy(f"accuracy-{stamp}-{slug(title)}", overall, started, time.time(), None, title)


def _unix(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def record_drill(result: Mapping[str, Any], path: Path | str | None = None) -> Record:
    """A recovery drill (local PostgreSQL drills and AWS drills share these names)."""
    scenario = str(result["scenario"])
    started = _unix(result["started_at"])
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))
    lab = bool(result.get("lab"))
    status = str(result.get("status") or ("passed" if result.get("passed") else "failed"))
    rto = result.get("rto_s")
    return Record(
        id=f"drill-{stamp}-{'lab-' if lab else ''}{scenario}",
        kind=RecordKind.RECOVERY_DRILL,
        key=scenario,
        title=f"recovery drill {scenario}{' (lab)' if lab else ''}",
        status=status,
        started_at=started,
        ended_at=None if rto is None else started + float(rto),
        environment="lab" if lab else ("aws" if scenario.startswith("aws-") else "local"),
        provider="aws" if scenario.startswith("aws-") else "local",
        source=None if path is None else str(path),
        figures={
            "passed": status == "passed",
            "rto_s": rto,
            "rpo_s": result.get("rpo_s"),
            "rto_target_s": result.get("rto_target_s"),
        },
        data={"detail": result.get("detail", "")},
    )


def record_backup(
    *,
    backup_id: str | None,
    source: str,
    kind: str,
    started: float,
    ended: float,
    success: bool,
    size: int | None = None,
    verified: bool | None = None,
    error: str = "",
) -> Record:
    """A backup taken (``verified`` None) or verified by restore (``verified`` True/False)."""
    what = "verify" if verified is not None else "backup"
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))
    return Record(
        id=f"{what}-{stamp}-{backup_id or slug(source)}",
        kind=RecordKind.BACKUP,
        key=f"{kind}:{slug(source)}",
        title=f"{what} of {source}",
        status="passed" if success else "failed",
        started_at=started,
        ended_at=ended,
        figures={
            "success": success,
            "verified": verified,
            "bytes": size,
            "duration_s": ended - started,
        },
        data={"backup_id": backup_id, "error": error, "action": what},
    )


def record_rollout(decision: Mapping[str, Any], path: Path | str | None = None) -> Record:
    """A rollout's decision record (``ialr deploy``): id, service, version, status, figures."""
    figures = {
        k: decision.get(k)
        for k in (
            "rolled_back",
            "rollback_ok",
            "time_to_detect_s",
            "time_to_rollback_s",
            "false_rollback",
        )
    }
    figures.update({k: v for k, v in (decision.get("figures") or {}).items()})
    service = str(decision.get("service") or decision.get("target") or "api")
    times = decision.get("times") or {}  # ialr deploy's decision records keep them here
    return Record(
        id=str(decision["id"]),
        kind=RecordKind.ROLLOUT,
        key=service,
        title=f"rollout of {decision.get('version', '?')} to {service}",
        status=str(decision.get("status") or "unknown"),
        started_at=float(decision.get("started_at") or times.get("started_at") or 0.0),
        ended_at=decision.get("ended_at") or times.get("ended_at"),
        environment=str(decision.get("environment") or "lab"),
        provider=str(decision.get("executor") or "lab"),
        source=None if path is None else str(path),
        figures=figures,
        data={k: decision.get(k) for k in ("version", "previous", "trigger")},
    )


def save(records: Iterable[Record], path: Path | None = None) -> int:
    """Store ``records``; a failure is printed as a warning and 0 returned (never raised):
    recording a result must not change what the command that produced it reports."""
    try:
        with HistoryStore.open(path) as store:
            return store.add_many(list(records))
    except (IalrError, OSError) as error:
        print(f"Warning: not recorded in the history: {error}", file=sys.stderr)
        return 0


# -- importing what is on disk -------------------------------------------------------------
@dataclass
class ImportReport:
    added: int = 0
    skipped: int = 0  # already in the history
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"added": self.added, "skipped": self.skipped, "problems": self.problems}


def _read_json(path: Any) -> dict[str, Any] | None:
    if not path:
        return None
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def records_of(path: Path) -> list[Record]:
    """The records one file holds; InputError saying why when it holds none we know."""
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise InputError(f"{path}: cannot read it ({error.strerror})") from error
    except ValueError as error:
        raise InputError(f"{path}: not JSON ({error}); a truncated file is not imported") from error
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a journal, report or drill result")
    if data.get("schema") == JOURNAL_SCHEMA:
        return [record_journal(data, path)]
    if "experiments" in data and "kpis" in data:
        return record_gameday(data, path)
    if "scenario" in data and "started_at" in data:
        return [record_drill(data, path)]
    raise InputError(f"{path}: not a journal, report or drill result")


def import_paths(paths: Iterable[Path], store: HistoryStore) -> ImportReport:
    """Import files and directories (their ``*.json``, recursively)."""
    report = ImportReport()
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(path.rglob("*.json"))
        elif path.exists():
            files.append(path)
        else:
            report.problems.append(f"{path}: no such file or directory")
    for file in files:
        try:
            found = records_of(file)
        except InputError as error:
            report.problems.append(error.message)
            continue
        added = store.add_many(found)
        report.added += added
        report.skipped += len(found) - added
    return report

"""View models of the three dashboard views, built from plain data.

The input is what the history part hands out (INTERFACES §8): records (any object with the
attributes of ``history.Record``) and the ``to_json()`` of ``analyze``, ``resilience_score``
and ``kpis``. Nothing here touches the store or the web, so every view is testable on plain
values, and each view model is also the body of its ``/api/...`` endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ial_resilience.gameday.outcome import FaultWindow, fault_windows
from ial_resilience.gameday.timeline import Request, Timeline, build_timeline

RUNS_SHOWN = 200  # runs drawn and listed on the monitoring page (newest first)
TREND_POINTS = 30  # evaluations of the score over time


class RecordLike(Protocol):
    """The attributes of ``ial_resilience.history.Record`` the dashboard reads."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> Any: ...
    @property
    def key(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def started_at(self) -> float: ...
    @property
    def ended_at(self) -> float | None: ...
    @property
    def environment(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def parent_id(self) -> str | None: ...
    @property
    def source(self) -> str | None: ...
    @property
    def figures(self) -> Mapping[str, Any]: ...


ScoreFn = Callable[[Sequence[Any], float], Mapping[str, Any]]


def kind_name(kind: Any) -> str:
    return str(getattr(kind, "value", kind))


def run_row(record: RecordLike) -> dict[str, Any]:
    ended = record.ended_at
    return {
        "id": record.id,
        "kind": kind_name(record.kind),
        "key": record.key,
        "title": record.title,
        "status": record.status,
        "started_at": record.started_at,
        "duration_s": None if ended is None else round(ended - record.started_at, 3),
        "environment": record.environment,
        "provider": record.provider,
        "parent_id": record.parent_id,
        "source": record.source,
        "figures": dict(record.figures),
    }


def runs_view(
    records: Sequence[RecordLike], *, kind: str | None = None, limit: int = RUNS_SHOWN
) -> dict[str, Any]:
    """The monitoring page: the newest ``limit`` runs (of ``kind``) and counts per status."""
    chosen = [r for r in records if kind is None or kind_name(r.kind) == kind]
    newest = sorted(chosen, key=lambda r: r.started_at, reverse=True)[: max(0, limit)]
    statuses: dict[str, int] = {}
    for record in chosen:
        statuses[record.status] = statuses.get(record.status, 0) + 1
    kinds = sorted({kind_name(r.kind) for r in records})
    return {
        "total": len(chosen),
        "shown": len(newest),
        "kind": kind,
        "kinds": kinds,
        "statuses": dict(sorted(statuses.items())),
        "runs": [run_row(r) for r in newest],
    }


@dataclass(frozen=True)
class RunTimeline:
    """A run's journal on the wall clock: fault windows, probe samples, guardrail events."""

    started_at: float
    ended_at: float
    faults: tuple[FaultWindow, ...]
    probes: dict[str, Timeline]
    abort_at: float | None
    recovered_at: float | None
    events: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "faults": [
                {
                    "fault": w.fault,
                    "target": w.target,
                    "start": w.start,
                    "end": w.end,
                    "landed": w.landed,
                    "revert_reason": w.revert_reason,
                }
                for w in self.faults
            ],
            "probes": {label: t.to_json() for label, t in self.probes.items()},
            "abort_at": self.abort_at,
            "recovered_at": self.recovered_at,
            "events": self.events,
        }


GUARDRAIL_KINDS = frozenset({"guardrail-breach", "fault-applied", "fault-reverted", "interrupted"})


def journal_timeline(journal: Mapping[str, Any]) -> RunTimeline:
    """Fault windows (``gameday.outcome.fault_windows``), one traffic-like timeline per probe
    from its kept samples, the guardrail breach and the fault events of a run journal."""
    started = float(journal.get("started_at") or 0.0)
    ended = float(journal.get("ended_at") or journal.get("written_at") or started)
    faults = fault_windows(journal)
    probes: dict[str, Timeline] = {}
    for label, data in sorted((journal.get("samples") or {}).items()):
        requests = [
            Request(float(s["wall"]), bool(s.get("ok")), float(s.get("latency_ms") or 0.0))
            for s in (data or {}).get("samples", [])
            if isinstance(s, Mapping) and s.get("wall") is not None
        ]
        if requests:
            probes[str(label)] = build_timeline(requests, started, max(ended, started + 1.0))
    breach = journal.get("guardrail_breach")
    abort_at = started + float(breach["detected_t"]) if breach else None
    ttr = journal.get("time_to_recover_s")
    ends = [w.end for w in faults if w.end is not None]
    recovered_at = max(ends) + float(ttr) if ttr is not None and ends else None
    events = [
        {
            "wall": e.get("wall"),
            "kind": e.get("kind"),
            "phase": e.get("phase"),
            "message": e.get("message"),
        }
        for e in journal.get("events", [])
        if isinstance(e, Mapping) and e.get("kind") in GUARDRAIL_KINDS
    ]
    return RunTimeline(started, ended, faults, probes, abort_at, recovered_at, events)


def read_journal(source: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """The journal a record points to, or None and why not (missing, unreadable, not JSON)."""
    if not source:
        return None, "this record names no journal file"
    path = Path(source)
    if path.is_dir():
        path = path / "report.json"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, f"cannot read {path}: {exc.strerror or exc}"
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"{path}:{exc.lineno}: not JSON ({exc.msg})"
    if not isinstance(document, dict):
        return None, f"{path}: not a journal (top level is not an object)"
    return document, None


def run_view(
    record: RecordLike, children: Sequence[RecordLike] = ()
) -> tuple[dict[str, Any], RunTimeline | None]:
    """One run: its row, its timeline when the record's source is a run journal, and the
    runs recorded under it (a game day's experiments); and the timeline to draw."""
    view: dict[str, Any] = {"run": run_row(record), "timeline": None, "timeline_note": None}
    timeline = None
    journal, why = read_journal(record.source)
    if journal is None:
        view["timeline_note"] = why
    elif str(journal.get("schema", "")).startswith("ialr.journal/"):
        try:
            timeline = journal_timeline(journal)
        except (KeyError, TypeError, ValueError) as exc:
            view["timeline_note"] = f"{record.source}: a fault or sample lacks a field ({exc!r})"
        else:
            view["timeline"] = timeline.to_json()
        view["reason"] = journal.get("reason")
    else:
        view["timeline_note"] = "the source is not a run journal; its runs are listed below"
    view["children"] = [run_row(c) for c in sorted(children, key=lambda c: c.started_at)]
    return view, timeline


def trend_times(records: Sequence[RecordLike], points: int = TREND_POINTS) -> list[float]:
    """Up to ``points`` evaluation times spread evenly from the first run's end to the last."""
    if not records:
        return []
    ends = [r.ended_at if r.ended_at is not None else r.started_at for r in records]
    first, last = min(ends), max(ends)
    if last - first <= 0 or points <= 1:
        return [last]
    step = (last - first) / (points - 1)
    return [first + i * step for i in range(points)]


def score_trend(
    records: Sequence[RecordLike], score: ScoreFn, points: int = TREND_POINTS
) -> list[dict[str, Any]]:
    """The score as it was at each of :func:`trend_times`: only the runs ended by then count,
    and staleness is judged from then (``now`` = that time)."""
    ordered = sorted(records, key=lambda r: r.ended_at or r.started_at)
    trend = []
    cut = 0
    for at in trend_times(ordered, points):
        while cut < len(ordered) and (ordered[cut].ended_at or ordered[cut].started_at) <= at:
            cut += 1
        result = score(ordered[:cut], at)
        trend.append({"at": at, "value": result.get("value"), "runs": cut})
    return trend


def score_view(score: Mapping[str, Any], trend: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {
        "value": score.get("value"),
        "formula": score.get("formula", ""),
        "parts": [dict(p) for p in score.get("parts", [])],
        "trend": [dict(t) for t in trend],
    }


def insights_view(analysis: Mapping[str, Any], kpis: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {
        "recommendations": [dict(r) for r in analysis.get("recommendations", [])],
        "regressions": [dict(r) for r in analysis.get("regressions", [])],
        "change_points": [dict(c) for c in analysis.get("change_points", [])],
        "trends": [dict(t) for t in analysis.get("trends", [])],
        "kpis": [dict(k) for k in kpis],
    }

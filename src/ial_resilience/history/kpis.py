"""The plan's KPI scorecard, measured from the history (never estimated).

Each KPI has its target from the plan, the number of results it was computed from, and no
value ("not enough data") below its minimum sample size:

| KPI | from | target | minimum |
|---|---|---|---|
| uptime | game days: successful / all user requests | > 99.9 % | 1000 requests |
| mttr | chaos runs: mean time to recover | < 30 min | 3 runs |
| chaos_pass_rate | chaos runs passed (incomplete = not passed) | > 95 % | 5 runs |
| alert_accuracy | alert-accuracy results: mean accuracy | > 90 % | 2 results |
| alert_false_positive_rate | the same: mean false-positive rate | < 5 % | 2 results |
| backup_success | backups taken: succeeded / taken | 100 % | 1 backup |
| recovery_time | recovery drills: the worst RTO | < 15 min | 1 drill |
| rollback_success | rollbacks completed / attempted | > 98 % | 3 rollbacks |
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ial_resilience.history.model import Record, RecordKind
from ial_resilience.spec.tolerance import parse_comparison

WINDOW_S = 30 * 86400.0
NOT_ENOUGH = "not enough data"


@dataclass(frozen=True)
class Kpi:
    name: str
    value: float | None
    unit: str
    target: str
    met: bool | None
    sample_size: int
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "target": self.target,
            "met": self.met,
            "sample_size": self.sample_size,
            "note": self.note,
        }


def _kpi(
    name: str, value: float | None, unit: str, target: str, size: int, minimum: int, what: str
) -> Kpi:
    if value is None or size < minimum:
        return Kpi(
            name,
            None,
            unit,
            target,
            None,
            size,
            f"{NOT_ENOUGH} ({size} {what}; {minimum} needed)",
        )
    return Kpi(name, value, unit, target, parse_comparison(target).holds(value), size, what)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _of(records: Sequence[Record], kind: RecordKind) -> list[Record]:
    return [r for r in records if r.kind is kind]


def uptime(records: Sequence[Record]) -> Kpi:
    days = [r for r in _of(records, RecordKind.GAMEDAY) if r.figure("requests")]
    total = sum(r.figure("requests") or 0.0 for r in days)
    failed = sum(r.figure("failed_requests") or 0.0 for r in days)
    value = (total - failed) / total if total else None
    kpi = _kpi("uptime", value, "ratio", "> 0.999", int(total), 1000, "requests")
    return Kpi(
        kpi.name,
        kpi.value,
        kpi.unit,
        kpi.target,
        kpi.met,
        kpi.sample_size,
        kpi.note if kpi.value is None else f"{total:.0f} requests over {len(days)} game day(s)",
    )


def mttr(records: Sequence[Record]) -> Kpi:
    times = [
        t
        for r in _of(records, RecordKind.CHAOS_RUN)
        if (t := r.figure("time_to_recover_s")) is not None
    ]
    return _kpi("mttr", _mean(times), "s", "< 1800", len(times), 3, "runs that recovered")


def chaos_pass_rate(records: Sequence[Record]) -> Kpi:
    runs = _of(records, RecordKind.CHAOS_RUN)
    passed = sum(1 for r in runs if r.figures.get("passed") is True)
    value = passed / len(runs) if runs else None
    return _kpi("chaos_pass_rate", value, "ratio", "> 0.95", len(runs), 5, "chaos runs")


def _accuracy(records: Sequence[Record], figure: str, name: str, target: str) -> Kpi:
    values = [
        v for r in _of(records, RecordKind.ALERT_ACCURACY) if (v := r.figure(figure)) is not None
    ]
    return _kpi(name, _mean(values), "ratio", target, len(values), 2, "alert-accuracy results")


def backup_success(records: Sequence[Record]) -> Kpi:
    taken = [r for r in _of(records, RecordKind.BACKUP) if r.data.get("action") == "backup"]
    ok = sum(1 for r in taken if r.figures.get("success") is True)
    value = ok / len(taken) if taken else None
    return _kpi("backup_success", value, "ratio", ">= 1.0", len(taken), 1, "backups taken")


def recovery_time(records: Sequence[Record]) -> Kpi:
    rtos = [
        t for r in _of(records, RecordKind.RECOVERY_DRILL) if (t := r.figure("rto_s")) is not None
    ]
    value = max(rtos) if rtos else None
    return _kpi("recovery_time", value, "s", "< 900", len(rtos), 1, "drills, the worst RTO")


def rollback_success(records: Sequence[Record]) -> Kpi:
    rolled = [r for r in _of(records, RecordKind.ROLLOUT) if r.figures.get("rolled_back") is True]
    ok = sum(1 for r in rolled if r.figures.get("rollback_ok") is True)
    value = ok / len(rolled) if rolled else None
    return _kpi("rollback_success", value, "ratio", "> 0.98", len(rolled), 3, "rollbacks")


KPIS: tuple[Callable[[Sequence[Record]], Kpi], ...] = (
    uptime,
    mttr,
    chaos_pass_rate,
    lambda rs: _accuracy(rs, "accuracy", "alert_accuracy", "> 0.9"),
    lambda rs: _accuracy(rs, "false_positive_rate", "alert_false_positive_rate", "< 0.05"),
    backup_success,
    recovery_time,
    rollback_success,
)


def kpis(records: Sequence[Record], now: float, window_s: float = WINDOW_S) -> list[Kpi]:
    """The eight KPIs over the records started in the last ``window_s`` before ``now``."""
    recent = [r for r in records if now - window_s <= r.started_at <= now]
    return [compute(recent) for compute in KPIS]

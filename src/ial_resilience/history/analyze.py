"""The analyzer: trends, change points, regressions and recommendations from the history.

- A **series** is one figure of one thing over time: an experiment's pass/fail and time to
  recover, a game day's availability and alert accuracy, a drill's RTO.
- **Trend**: the Theil–Sen slope (``scipy.stats.theilslopes``, robust to one odd run) per
  week, and the change from the first to the last value.
- **Change point**: ``ruptures`` (binary segmentation, least squares) finds the most likely
  shift in a series of at least 6 values; it is kept only when the two sides differ
  significantly (Mann–Whitney U, p < 0.05) and by at least 20 %. A change for the worse is a
  **regression**, reported with the run where it started.
- **Recommendations** come from the findings, each with its evidence (record ids, figures):
  regressions; experiments that keep deviating; faults that fire no alert; fault families no
  experiment covers; experiments not run for 14 days; KPIs that miss their target.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ial_resilience.history.kpis import kpis
from ial_resilience.history.model import Record, RecordKind
from ial_resilience.history.score import FAMILIES

WEEK_S = 7 * 86400.0
STALE_S = 14 * 86400.0
MIN_CHANGE_POINTS = 6
MIN_RELATIVE_SHIFT = 0.2
P_VALUE = 0.05
# a higher value is better for these figures; lower is better for the others
HIGHER_IS_BETTER = {"passed", "availability", "alert_accuracy", "chaos_pass_rate", "accuracy"}


@dataclass(frozen=True)
class Series:
    subject: str  # experiment / suite / scenario key
    title: str
    figure: str
    points: list[tuple[Record, float]]


@dataclass(frozen=True)
class Trend:
    subject: str
    title: str
    figure: str
    points: int
    first: float
    last: float
    slope_per_week: float

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "title": self.title,
            "figure": self.figure,
            "points": self.points,
            "first": self.first,
            "last": self.last,
            "slope_per_week": self.slope_per_week,
        }


@dataclass(frozen=True)
class ChangePoint:
    subject: str
    title: str
    figure: str
    record_id: str  # the first run after the change
    started_at: float
    before: float  # mean before
    after: float  # mean after
    p_value: float
    worse: bool

    @property
    def relative(self) -> float:
        return (self.after - self.before) / abs(self.before) if self.before else math.inf

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "title": self.title,
            "figure": self.figure,
            "record_id": self.record_id,
            "started_at": self.started_at,
            "before": self.before,
            "after": self.after,
            "p_value": self.p_value,
            "relative_change": self.relative if math.isfinite(self.relative) else None,
            "worse": self.worse,
        }


@dataclass(frozen=True)
class Recommendation:
    text: str
    severity: str  # info | warning | critical
    evidence: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "severity": self.severity, "evidence": self.evidence}


@dataclass(frozen=True)
class Analysis:
    trends: list[Trend] = field(default_factory=list)
    change_points: list[ChangePoint] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)
    records: int = 0

    @property
    def regressions(self) -> list[ChangePoint]:
        return [c for c in self.change_points if c.worse]

    def to_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "trends": [t.to_json() for t in self.trends],
            "change_points": [c.to_json() for c in self.change_points],
            "regressions": [c.to_json() for c in self.regressions],
            "recommendations": [r.to_json() for r in self.recommendations],
        }


# -- series -----------------------------------------------------------------------------------
_FIGURES = {
    RecordKind.CHAOS_RUN: ("passed", "time_to_recover_s"),
    RecordKind.GAMEDAY: ("availability", "chaos_pass_rate", "mttr_s", "alert_accuracy"),
    RecordKind.RECOVERY_DRILL: ("rto_s", "rpo_s"),
    RecordKind.ALERT_ACCURACY: ("accuracy", "false_positive_rate"),
    RecordKind.ROLLOUT: ("time_to_detect_s", "time_to_rollback_s"),
}


def series(records: Sequence[Record]) -> list[Series]:
    grouped: dict[tuple[RecordKind, str, str], list[tuple[Record, float]]] = defaultdict(list)
    titles: dict[str, str] = {}
    for record in sorted(records, key=lambda r: r.started_at):
        for figure in _FIGURES.get(record.kind, ()):
            value = record.figure(figure)
            if value is not None and math.isfinite(value):
                grouped[(record.kind, record.key, figure)].append((record, value))
                titles[record.key] = record.title
    return [
        Series(key, titles[key], figure, points) for (_, key, figure), points in grouped.items()
    ]


def trend(s: Series) -> Trend | None:
    if len(s.points) < 3:
        return None
    from scipy.stats import theilslopes

    times = [r.started_at / WEEK_S for r, _ in s.points]
    values = [v for _, v in s.points]
    slope = 0.0 if len(set(times)) < 2 else float(theilslopes(values, times)[0])
    return Trend(s.subject, s.title, s.figure, len(values), values[0], values[-1], slope)


def change_point(s: Series) -> ChangePoint | None:
    values = [v for _, v in s.points]
    if len(values) < MIN_CHANGE_POINTS or len(set(values)) < 2:
        return None
    import numpy as np
    import ruptures
    from scipy.stats import mannwhitneyu

    signal = np.asarray(values, dtype=float).reshape(-1, 1)
    cut = int(ruptures.Binseg(model="l2", min_size=3, jump=1).fit(signal).predict(n_bkps=1)[0])
    before, after = values[:cut], values[cut:]
    if len(before) < 3 or len(after) < 3:
        return None
    p = float(mannwhitneyu(before, after, alternative="two-sided").pvalue)
    mean_before, mean_after = sum(before) / len(before), sum(after) / len(after)
    shift = abs(mean_after - mean_before) / max(abs(mean_before), 1e-9)
    if p >= P_VALUE or shift < MIN_RELATIVE_SHIFT:
        return None
    higher_better = s.figure in HIGHER_IS_BETTER
    worse = mean_after < mean_before if higher_better else mean_after > mean_before
    first = s.points[cut][0]
    return ChangePoint(
        s.subject, s.title, s.figure, first.id, first.started_at, mean_before, mean_after, p, worse
    )


# -- recommendations ----------------------------------------------------------------------------
def _regression_text(c: ChangePoint) -> str:
    if c.figure == "passed":
        return (
            f"'{c.title}' passes less since run {c.record_id}: {c.before:.0%} of runs "
            f"before, {c.after:.0%} after — find what changed then"
        )
    direction = "rising" if c.after > c.before else "falling"
    change = f"{abs(c.relative):.0%}" if math.isfinite(c.relative) else "from 0"
    return (
        f"{c.figure} of '{c.title}' {direction} {change} since run {c.record_id} "
        f"({c.before:.3g} → {c.after:.3g})"
    )


def _silent_faults(records: Sequence[Record]) -> list[Recommendation]:
    """Experiments run in game days (where alerts are evaluated) whose faults landed and fired
    no alert in any of their last runs."""
    by_key: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        if r.kind is RecordKind.CHAOS_RUN and r.parent_id and "alerts_fired" in r.data:
            by_key[r.key].append(r)
    found = []
    for runs in by_key.values():
        last = sorted(runs, key=lambda r: r.started_at)[-3:]
        landed = [r for r in last if r.figures.get("landed") is True]
        if len(landed) >= 2 and all(int(r.data.get("alerts_fired") or 0) == 0 for r in landed):
            families = ", ".join(sorted({f for r in landed for f in r.data.get("families", [])}))
            found.append(
                Recommendation(
                    f"'{landed[-1].title}' ({families} faults) landed in {len(landed)} runs and no "
                    "alert fired: the fault is invisible to alerting — add an infrastructure alert "
                    "for it (e.g. healthy targets below desired, restarts, failover happened)",
                    "warning",
                    [{"record_id": r.id, "figure": "alerts_fired", "value": 0} for r in landed],
                )
            )
    return found


def _deviating(records: Sequence[Record]) -> list[Recommendation]:
    by_key: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        if r.kind is RecordKind.CHAOS_RUN:
            by_key[r.key].append(r)
    found = []
    for runs in by_key.values():
        last = sorted(runs, key=lambda r: r.started_at)[-5:]
        failed = [r for r in last if r.figures.get("passed") is not True]
        if len(last) >= 2 and len(failed) * 2 > len(last):
            reason = str(failed[-1].data.get("reason") or failed[-1].status)
            found.append(
                Recommendation(
                    f"'{last[-1].title}' did not pass in {len(failed)} of its last {len(last)} "
                    "runs "
                    f"(last: {reason}) — fix the system, not the hypothesis",
                    "critical" if len(failed) == len(last) else "warning",
                    [{"record_id": r.id, "figure": "passed", "value": False} for r in failed],
                )
            )
    return found


def _coverage_and_staleness(records: Sequence[Record], now: float) -> list[Recommendation]:
    runs = [r for r in records if r.kind is RecordKind.CHAOS_RUN]
    if not runs:
        return []
    found = []
    seen = {f for r in runs for f in r.data.get("families", [])}
    missing = [f for f in FAMILIES if f not in seen]
    if missing:
        found.append(
            Recommendation(
                f"no experiment in the history exercises the fault families {', '.join(missing)} — "
                "add one (see `ialr chaos parity` and the library in chaos/)",
                "info",
                [{"record_id": None, "figure": "families_run", "value": sorted(seen)}],
            )
        )
    latest: dict[str, Record] = {}
    for r in runs:
        if r.key not in latest or r.started_at > latest[r.key].started_at:
            latest[r.key] = r
    for r in latest.values():
        if now - r.started_at > STALE_S:
            days = (now - r.started_at) / 86400
            found.append(
                Recommendation(
                    f"'{r.title}' has not run for {days:.0f} days: its result counts less in the "
                    "score every week — run it again",
                    "info",
                    [{"record_id": r.id, "figure": "age_days", "value": round(days, 1)}],
                )
            )
    return found


def _kpi_misses(records: Sequence[Record], now: float) -> list[Recommendation]:
    return [
        Recommendation(
            f"KPI {k.name} is {k.value:.4g} {k.unit}, target {k.target}",
            "warning",
            [{"record_id": None, "figure": k.name, "value": k.value, "sample_size": k.sample_size}],
        )
        for k in kpis(records, now)
        if k.met is False and k.value is not None
    ]


def analyze(records: Sequence[Record], now: float) -> Analysis:
    every = series(records)
    trends = [t for s in every if (t := trend(s)) is not None]
    changes = [c for s in every if (c := change_point(s)) is not None]
    recommendations = [
        *(
            Recommendation(
                _regression_text(c),
                "warning",
                [
                    {
                        "record_id": c.record_id,
                        "figure": c.figure,
                        "value": c.after,
                        "before": c.before,
                        "p_value": round(c.p_value, 4),
                    }
                ],
            )
            for c in changes
            if c.worse
        ),
        *_deviating(records),
        *_silent_faults(records),
        *_kpi_misses(records, now),
        *_coverage_and_staleness(records, now),
    ]
    return Analysis(trends, changes, recommendations, len(records))

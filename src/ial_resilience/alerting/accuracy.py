"""Alert accuracy against ground truth: the fault windows recorded in chaos journals.

For each rule, over the time the journals cover:

- a **fault window** is ``[applied, reverted + grace]`` of one applied fault (a rule whose
  annotation ``faults`` lists fault globs, e.g. ``"network.latency, process.*"``, is judged
  only on those faults; windows of other faults are ignored for it);
- an alert episode is a **true alert** when it fired inside a window, else a **false alert**;
- a window is **detected** when at least one alert of the rule fired in it; time to detect
  is the first such alert's ``fired_at − applied``;
- the **quiet periods** are the gaps between windows inside the covered span (from the first
  journal's start to the last one's end); a quiet period with a false alert is a false positive.

precision = true alerts / alerts; recall = detected / windows; false-positive rate = quiet
periods alerted / quiet periods; accuracy = (detected + quiet periods not alerted) /
(windows + quiet periods). The plan's KPIs: accuracy > 90 %, false positives < 5 %.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ial_resilience.alerting.state import FiredAlert
from ial_resilience.errors import InputError

KPI_ACCURACY = 0.90
KPI_FALSE_POSITIVE_RATE = 0.05


@dataclass(frozen=True, slots=True)
class FaultWindow:
    run_id: str
    fault: str
    target: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Coverage:
    start: float
    end: float


@dataclass(frozen=True)
class RuleAccuracy:
    rule: str
    alerts: int
    true_alerts: int
    windows: int
    detected: int
    quiet_periods: int
    quiet_alerted: int
    times_to_detect: tuple[float, ...]

    @property
    def false_alerts(self) -> int:
        return self.alerts - self.true_alerts

    @property
    def precision(self) -> float | None:
        return self.true_alerts / self.alerts if self.alerts else None

    @property
    def recall(self) -> float | None:
        return self.detected / self.windows if self.windows else None

    @property
    def false_positive_rate(self) -> float | None:
        return self.quiet_alerted / self.quiet_periods if self.quiet_periods else None

    @property
    def accuracy(self) -> float | None:
        cases = self.windows + self.quiet_periods
        correct = self.detected + self.quiet_periods - self.quiet_alerted
        return correct / cases if cases else None

    @property
    def mean_time_to_detect(self) -> float | None:
        ttd = self.times_to_detect
        return sum(ttd) / len(ttd) if ttd else None

    def meets_kpis(self) -> bool:
        accuracy, fpr = self.accuracy, self.false_positive_rate
        return (accuracy is not None and accuracy > KPI_ACCURACY) and (
            fpr is None or fpr < KPI_FALSE_POSITIVE_RATE
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "alerts": self.alerts,
            "true_alerts": self.true_alerts,
            "false_alerts": self.false_alerts,
            "windows": self.windows,
            "detected": self.detected,
            "quiet_periods": self.quiet_periods,
            "quiet_alerted": self.quiet_alerted,
            "precision": self.precision,
            "recall": self.recall,
            "false_positive_rate": self.false_positive_rate,
            "accuracy": self.accuracy,
            "mean_time_to_detect_s": self.mean_time_to_detect,
            "times_to_detect_s": list(self.times_to_detect),
            "meets_kpis": self.meets_kpis(),
        }


def journal_windows(document: Mapping[str, Any]) -> list[FaultWindow]:
    started = document.get("started_at")
    windows = []
    for fault in document.get("faults", []):
        if not fault.get("applied") or fault.get("applied_at") is None:
            continue
        start = float(fault["applied_at"])
        if fault.get("reverted_t") is not None and started is not None:
            end = float(started) + float(fault["reverted_t"])
        else:
            end = start + float(fault.get("duration_s") or 0.0)
        windows.append(
            FaultWindow(
                str(document.get("run_id", "")),
                str(fault.get("fault", "")),
                str(fault.get("target", "")),
                start,
                max(start, end),
            )
        )
    return windows


def read_journals(directory: Path, since: float = 0.0) -> tuple[list[FaultWindow], Coverage | None]:
    """Fault windows and the covered span of every journal in ``directory`` started ≥ since."""
    if not directory.is_dir():
        raise InputError(
            f"no journal directory at {directory}",
            hint="pass --journals DIR, the directory `ialr chaos run` wrote journals to",
        )
    windows: list[FaultWindow] = []
    starts, ends = [], []
    for path in sorted(directory.glob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise InputError(
                f"cannot read the journal {path}: {error}", hint="move the damaged file away"
            ) from error
        if not isinstance(document, dict) or not str(document.get("schema", "")).startswith(
            "ialr.journal/"
        ):
            continue
        started = document.get("started_at")
        if started is None or float(started) < since:
            continue
        starts.append(float(started))
        ends.append(float(document.get("ended_at") or document.get("written_at") or started))
        windows.extend(journal_windows(document))
    coverage = Coverage(min(starts), max(ends)) if starts else None
    return windows, coverage


def _relevant(patterns: str | None, fault: str) -> bool:
    if not patterns:
        return True
    return any(fnmatch.fnmatch(fault, p.strip()) for p in patterns.split(",") if p.strip())


def _merge(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _gaps(busy: list[tuple[float, float]], coverage: Coverage) -> list[tuple[float, float]]:
    gaps, cursor = [], coverage.start
    for start, end in busy:
        if start > cursor:
            gaps.append((cursor, min(start, coverage.end)))
        cursor = max(cursor, end)
    if cursor < coverage.end:
        gaps.append((cursor, coverage.end))
    return [(a, b) for a, b in gaps if b > a]


ANY_RULE = "(any rule)"


def score_overall(
    alerts: Sequence[FiredAlert],
    windows: Sequence[FaultWindow],
    coverage: Coverage | None,
    *,
    grace: float,
) -> RuleAccuracy:
    """Every rule's alerts taken as one (``ANY_RULE``): did *some* alert catch each fault
    window, and did any alert fire in a quiet period."""
    merged = [dataclasses.replace(a, rule=ANY_RULE) for a in alerts]
    return score_rule(ANY_RULE, merged, windows, coverage, grace=grace)


def score_rule(
    rule: str,
    alerts: Sequence[FiredAlert],
    windows: Sequence[FaultWindow],
    coverage: Coverage | None,
    *,
    grace: float,
    faults: str | None = None,
) -> RuleAccuracy:
    mine = [w for w in windows if _relevant(faults, w.fault)]
    ignored = [(w.start, w.end + grace) for w in windows if not _relevant(faults, w.fault)]
    spans = [(w.start, w.end + grace) for w in mine]
    fired = [a.fired_at for a in alerts if a.rule == rule]
    in_scope = [t for t in fired if not any(a <= t <= b for a, b in ignored)]
    true_alerts = sum(1 for t in in_scope if any(a <= t <= b for a, b in spans))
    times = []
    for w_start, w_end in spans:
        hits = [t for t in in_scope if w_start <= t <= w_end]
        if hits:
            times.append(min(hits) - w_start)
    quiet = _gaps(_merge(spans + ignored), coverage) if coverage else []
    quiet_alerted = sum(1 for a, b in quiet if any(a <= t < b for t in in_scope))
    return RuleAccuracy(
        rule,
        len(in_scope),
        true_alerts,
        len(spans),
        len(times),
        len(quiet),
        quiet_alerted,
        tuple(times),
    )


def score(
    rules: Mapping[str, str | None],
    alerts: Sequence[FiredAlert],
    windows: Sequence[FaultWindow],
    coverage: Coverage | None,
    *,
    grace: float = 60.0,
) -> list[RuleAccuracy]:
    """Per rule (name → its ``faults`` globs or None); rules seen only in alerts are added."""
    names = dict(rules)
    for alert in alerts:
        names.setdefault(alert.rule, None)
    return [
        score_rule(name, alerts, windows, coverage, grace=grace, faults=globs)
        for name, globs in sorted(names.items())
    ]

"""The resilience score: 0–100 from what the chaos runs of the history show.

    score = 100 × (0.5 × outcomes + 0.2 × recovery + 0.3 × coverage)

- **outcomes**: the share of runs that passed, each run weighted by its age,
  ``0.5 ** (age / 7 days)`` — an experiment not run for weeks counts less (staleness decay);
  a run that deviated, aborted, errored, was inconclusive or incomplete counts 0;
- **recovery**: the same weights over the runs whose faults were applied: ``1 / (1 +
  time_to_recover / 60 s)`` for a run that recovered (1.0 at once, 0.5 after a minute), 0 for
  one that never did;
- **coverage**: the fault families (network, process, resource, http, db, dependency, lb,
  scaling) with at least one run in the last 30 days, out of all eight.

No chaos run in the last 30 days: no score (None), never a number made up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ial_resilience.faults.vocabulary import FAULTS
from ial_resilience.history.model import Record, RecordKind

HALF_LIFE_S = 7 * 86400.0
WINDOW_S = 30 * 86400.0
RECOVERY_SCALE_S = 60.0
WEIGHTS = {"outcomes": 0.5, "recovery": 0.2, "coverage": 0.3}
FAMILIES = tuple(sorted({name.split(".", 1)[0] for name in FAULTS}))
FORMULA = (
    "100 × (0.5 × outcomes + 0.2 × recovery + 0.3 × coverage); runs weighted 0.5^(age / 7 d); "
    "recovery per run 1 / (1 + time_to_recover / 60 s), 0 if it never recovered; coverage = "
    f"fault families run in the last 30 d / {len(FAMILIES)}"
)


@dataclass(frozen=True)
class ScorePart:
    name: str
    weight: float
    value: float
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "weight": self.weight,
            "value": self.value,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Score:
    value: float | None
    parts: list[ScorePart] = field(default_factory=list)
    formula: str = FORMULA
    runs: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "parts": [p.to_json() for p in self.parts],
            "formula": self.formula,
            "runs": self.runs,
        }


def weight(record: Record, now: float) -> float:
    return float(0.5 ** (max(0.0, now - record.started_at) / HALF_LIFE_S))


def _recovery(record: Record) -> float | None:
    """1/(1 + ttr/60) when it recovered, 0 when faults were applied and it never did, None
    when no fault was applied (nothing to recover from)."""
    ttr = record.figure("time_to_recover_s")
    if ttr is not None:
        return 1.0 / (1.0 + ttr / RECOVERY_SCALE_S)
    applied = record.figures.get("faults") and record.figures.get("landed") is not None
    return 0.0 if applied else None


def resilience_score(records: Sequence[Record], now: float) -> Score:
    runs = [
        r
        for r in records
        if r.kind is RecordKind.CHAOS_RUN and now - WINDOW_S <= r.started_at <= now
    ]
    if not runs:
        return Score(None, [], FORMULA, 0)
    weights = [weight(r, now) for r in runs]
    total = sum(weights)
    outcomes = (
        sum(w for r, w in zip(runs, weights, strict=True) if r.figures.get("passed") is True)
        / total
    )
    scored = [(s, w) for r, w in zip(runs, weights, strict=True) if (s := _recovery(r)) is not None]
    recovery = sum(s * w for s, w in scored) / sum(w for _, w in scored) if scored else 0.0
    families = {f for r in runs for f in r.data.get("families", [])} & set(FAMILIES)
    coverage = len(families) / len(FAMILIES)
    parts = [
        ScorePart(
            "outcomes",
            WEIGHTS["outcomes"],
            outcomes,
            f"{sum(r.figures.get('passed') is True for r in runs)} of {len(runs)} runs "
            "passed (age-weighted)",
        ),
        ScorePart(
            "recovery", WEIGHTS["recovery"], recovery, f"{len(scored)} runs with faults applied"
        ),
        ScorePart(
            "coverage",
            WEIGHTS["coverage"],
            coverage,
            f"{len(families)}/{len(FAMILIES)} families: {', '.join(sorted(families))}",
        ),
    ]
    value = 100.0 * sum(p.weight * p.value for p in parts)
    return Score(round(value, 1), parts, FORMULA, len(runs))

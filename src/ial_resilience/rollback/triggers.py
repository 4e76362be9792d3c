"""What makes a rollout roll back, besides the canary judge (docs/ROLLBACK.md).

- :class:`MetricTrigger`: an alert rule of the lab (``lab/alerts.yaml``: thresholds and SLO
  burn rates) that starts firing during the rollout, evaluated by the alerting evaluator on
  the lab's telemetry store. Alerts already firing when the rollout began do not count.
- :func:`predict_exhaustion`: a burn-rate projection — if the rollout went on, would the SLO's
  error budget be gone before it completes? It uses the Wilson lower bound of the canary's
  error ratio, so a handful of requests never predicts anything.
- :func:`chaos_trigger`: a hypothesis of a post-deploy experiment (the engine's run) broke.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ial_resilience.alerting.evaluator import Evaluator
from ial_resilience.alerting.rules import BurnRateRule, RuleFile, load_rules
from ial_resilience.alerting.state import history as alert_history
from ial_resilience.observability.store import TelemetryStore
from ial_resilience.rollback.judge import wilson_lower

LAB_RULES = Path(__file__).resolve().parents[1] / "lab" / "alerts.yaml"


@dataclass(frozen=True)
class Trigger:
    """Why a rollout rolls back: ``kind`` (canary, metric, predictive, chaos) and evidence."""

    kind: str
    reason: str
    at: float
    evidence: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class MetricTrigger:
    """Alert rules evaluated every call; fires on a rule that was not firing at the start and
    had not fired in the ``lookback`` before it (a burn an earlier incident left in the
    windows is not this rollout's doing)."""

    def __init__(self, rules: RuleFile, store: TelemetryStore, lookback: float = 60.0) -> None:
        self.rules = rules
        self.evaluator = Evaluator(rules, store)
        self.ignored = {alert.rule for alert in self.evaluator.evaluate().firing()}
        recent = alert_history(store, time.time() - lookback)
        self.ignored |= {a.rule for a in recent}

    def check(self, now: float | None = None) -> Trigger | None:
        round_ = self.evaluator.evaluate(now)
        fresh = [a for a in round_.firing() if a.rule not in self.ignored]
        if not fresh:
            return None
        alert = fresh[0]
        return Trigger(
            "metric",
            f"alert {alert.rule} ({alert.severity}) fired during the rollout",
            round_.at,
            {"alerts": [a.to_json() for a in fresh], "ignored_at_start": sorted(self.ignored)},
        )


def slo_rule(rules: RuleFile) -> BurnRateRule | None:
    return next((r for r in rules.rules if isinstance(r, BurnRateRule)), None)


@dataclass(frozen=True)
class Projection:
    objective: float
    budget_window_s: float
    budget_used: float  # share of the window's budget already used (0..)
    canary_error_lower: float  # Wilson 95 % lower bound
    baseline_error_ratio: float
    projected_use: float  # share the rest of the rollout would use
    remaining_s: float
    exhausted: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def predict_exhaustion(
    *,
    objective: float,
    budget_window_s: float,
    budget_used: float,
    canary_errors: int,
    canary_requests: int,
    baseline_error_ratio: float,
    replicas: int,
    new_replicas: int,
    canary_remaining_s: float,
    step_s: float,
    min_requests: int = 10,
    min_increase: float = 0.01,
) -> Projection:
    """Project the budget use of the rest of the rollout (pure; numbers in the result).

    The rollout goes on with the canary's error ratio ``e`` (its Wilson lower bound): while
    ``k`` of ``replicas`` run the new version, the fleet fails ``k/n·e + (1 − k/n)·b`` of its
    requests; each step of ``step_s`` uses ``ratio·step_s / ((1 − objective)·window)`` of the
    budget. Exhausted when what is used plus the projection reaches the whole budget — and
    the budget is not gone already (then it is not this rollout's doing), the canary had
    ``min_requests`` and its lower bound is ``min_increase`` above the baseline's ratio.
    """
    lower = wilson_lower(canary_errors, canary_requests)
    budget = (1.0 - objective) * budget_window_s
    steps = [(new_replicas, canary_remaining_s)]
    steps += [(k, step_s) for k in range(new_replicas + 1, replicas + 1)]
    projected = 0.0
    for k, seconds in steps:
        share = k / replicas
        projected += (share * lower + (1 - share) * baseline_error_ratio) * seconds / budget
    remaining = sum(seconds for _, seconds in steps)
    return Projection(
        objective,
        budget_window_s,
        budget_used,
        lower,
        baseline_error_ratio,
        projected,
        remaining,
        canary_requests >= min_requests
        and budget_used < 1.0  # already gone: not this rollout's doing (no rollback for it)
        and budget_used + projected >= 1.0
        and lower >= baseline_error_ratio + min_increase,
    )


def budget_used(store: TelemetryStore, rule: BurnRateRule, window_s: float, now: float) -> float:
    """Share of the SLO's error budget over ``window_s`` the fleet already used.

    The budget is ``(1 − objective)`` of the requests the window holds at the observed rate
    (requests seen / seconds since the first of them, at least 1 s), so the first seconds of
    traffic do not count as a whole window's worth.
    """
    start = now - window_s
    total_series = store.points(*_sel(rule.total), start, now)
    good = sum(sum(s.values) for s in store.points(*_sel(rule.good), start, now))
    total = sum(sum(s.values) for s in total_series)
    if total <= 0:
        return 0.0
    first = min(s.ts[0] for s in total_series if s.ts)
    rate = total / max(1.0, now - first)
    return (total - good) / ((1.0 - rule.objective) * rate * window_s)


def _sel(selector: Any) -> tuple[str, dict[str, str]]:
    return str(selector.metric), dict(selector.where)


def chaos_trigger(journal: dict[str, Any], path: Path | None) -> Trigger | None:
    """A post-deploy experiment whose hypothesis broke (status deviated) → a trigger."""
    status = str(journal.get("status", ""))
    if status == "passed":
        return None
    return Trigger(
        "chaos",
        f"post-deploy experiment {journal.get('title', '?')!r} {status}: "
        f"{journal.get('reason', '')}".strip(),
        time.time(),
        {
            "status": status,
            "journal": str(path) if path else None,
            "run_id": journal.get("run_id"),
        },
    )


def lab_rules(path: Path | None = None) -> RuleFile:
    return load_rules(path or LAB_RULES)

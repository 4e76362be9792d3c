"""Evaluate one rule at one instant: per group, the value and whether the condition holds.

:class:`SeriesIndex` reads the store's series once per evaluation round, so 100 rules over
10,000 series cost one series scan plus one point query per selector.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ial_resilience.alerting import functions as fn
from ial_resilience.alerting.rules import (
    AbsenceRule,
    AnomalyRule,
    AnyRule,
    BurnRateRule,
    Direction,
    Expr,
    Function,
    Selector,
    Severity,
    ThresholdRule,
)
from ial_resilience.observability.store import TelemetryStore, labels_key

GroupKey = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Observation:
    """One group of one rule at one instant."""

    group: Mapping[str, str]
    value: float | None
    condition: bool  # the firing condition holds now
    clear: bool  # a firing alert may resolve now (hysteresis)
    severity: Severity


@dataclass(frozen=True, slots=True)
class Series:
    id: int
    labels: Mapping[str, str]


class SeriesIndex:
    """Series by metric name, read once; points fetched per selector and window."""

    def __init__(self, store: TelemetryStore) -> None:
        self.store = store
        self.by_name: dict[str, list[Series]] = defaultdict(list)
        for sid, name, labels in store.query("SELECT id, name, labels FROM series"):
            self.by_name[name].append(Series(int(sid), json.loads(labels)))

    def select(self, selector: Selector) -> list[Series]:
        where = selector.where.items()
        return [
            s
            for s in self.by_name.get(selector.metric, [])
            if all(s.labels.get(k) == v for k, v in where)
        ]

    def values(
        self, selector: Selector, by: Sequence[str], start: float, end: float
    ) -> dict[GroupKey, list[tuple[float, float]]]:
        """(ts, value) points with ``start < ts <= end`` per group, oldest first."""
        chosen = {s.id: group_key(s.labels, by) for s in self.select(selector)}
        groups: dict[GroupKey, list[tuple[float, float]]] = {key: [] for key in chosen.values()}
        if not chosen:
            return groups
        marks = ",".join("?" * len(chosen))
        rows = self.store.query(
            f"SELECT series_id, ts, value FROM points WHERE series_id IN ({marks}) "
            "AND ts > ? AND ts <= ?",
            (*chosen, start, end),
        )
        for sid, ts, value in rows:
            groups[chosen[sid]].append((ts, value))
        for points in groups.values():
            points.sort()
        return groups

    def last_seen(self, selector: Selector, by: Sequence[str]) -> dict[GroupKey, float]:
        result: dict[GroupKey, float] = {}
        for series in self.select(selector):
            rows = self.store.query("SELECT MAX(ts) FROM points WHERE series_id = ?", (series.id,))
            key = group_key(series.labels, by)
            seen = rows[0][0] if rows else None
            result[key] = max(
                result.get(key, float("-inf")), float(seen) if seen else float("-inf")
            )
        return result


def group_key(labels: Mapping[str, str], by: Sequence[str]) -> GroupKey:
    return tuple(labels.get(name, "") for name in by)


def group_labels(key: GroupKey, by: Sequence[str]) -> dict[str, str]:
    return dict(zip(by, key, strict=True))


def _plain(points: list[tuple[float, float]]) -> list[float]:
    return [value for _, value in points]


def expr_values(
    index: SeriesIndex, expr: Expr, by: Sequence[str], start: float, end: float
) -> dict[GroupKey, float | None]:
    """The expression per group over ``(start, end]``."""
    window = end - start
    if expr.function is Function.RATIO:
        assert expr.numerator is not None and expr.denominator is not None
        num = index.values(expr.numerator, by, start, end)
        den = index.values(expr.denominator, by, start, end)
        return {
            key: fn.ratio(sum(_plain(num.get(key, []))), sum(_plain(points)))
            for key, points in den.items()
        }
    (selector,) = expr.selectors()
    groups = index.values(selector, by, start, end)
    return {
        key: fn.compute(expr.function, _plain(points), window, expr.quantile)
        for key, points in groups.items()
    }


def observe(rule: AnyRule, index: SeriesIndex, now: float) -> list[Observation]:
    if isinstance(rule, ThresholdRule):
        return observe_threshold(rule, index, now)
    if isinstance(rule, BurnRateRule):
        return observe_burn_rate(rule, index, now)
    if isinstance(rule, AnomalyRule):
        return observe_anomaly(rule, index, now)
    return observe_absence(rule, index, now)


def observe_threshold(rule: ThresholdRule, index: SeriesIndex, now: float) -> list[Observation]:
    values = expr_values(index, rule.expr, rule.by, now - rule.expr.window, now)
    return [
        Observation(
            group_labels(key, rule.by),
            value,
            fn.holds(rule.op, value, rule.value),
            not fn.holds(rule.op, value, rule.resolve_threshold()),
            rule.severity,
        )
        for key, value in values.items()
    ]


def _error_ratios(
    rule: BurnRateRule, index: SeriesIndex, now: float, window: float
) -> dict[GroupKey, float | None]:
    good = index.values(rule.good, rule.by, now - window, now)
    total = index.values(rule.total, rule.by, now - window, now)
    result: dict[GroupKey, float | None] = {}
    for key, points in total.items():
        share = fn.ratio(sum(_plain(good.get(key, []))), sum(_plain(points)))
        result[key] = None if share is None else 1.0 - share
    return result


def observe_burn_rate(rule: BurnRateRule, index: SeriesIndex, now: float) -> list[Observation]:
    burns: dict[GroupKey, list[tuple[float, float, float, Severity]]] = defaultdict(list)
    for window in rule.scaled_windows():
        long = _error_ratios(rule, index, now, window.long)
        short = _error_ratios(rule, index, now, window.short)
        for key in long.keys() | short.keys():
            lr, sr = long.get(key), short.get(key)
            burn_long = (lr or 0.0) / rule.error_budget
            burn_short = (sr or 0.0) / rule.error_budget
            burns[key].append(
                (burn_long, burn_short, window.factor, window.severity or rule.severity)
            )
    observations = []
    for key, pairs in burns.items():
        firing = [(bl, bs, sev) for bl, bs, factor, sev in pairs if bl >= factor and bs >= factor]
        severity = max((sev for _, _, sev in firing), key=lambda s: s.rank, default=rule.severity)
        value = max((bs for _, bs, _ in firing), default=max(bs for _, bs, _, _ in pairs))
        observations.append(
            Observation(group_labels(key, rule.by), value, bool(firing), not firing, severity)
        )
    return observations


def observe_anomaly(rule: AnomalyRule, index: SeriesIndex, now: float) -> list[Observation]:
    window = rule.expr.window
    start = now - rule.baseline - window
    observations = []
    for selector_key, points in _anomaly_points(rule, index, start, now).items():
        current = [v for ts, v in points if ts > now - window]
        value = fn.compute(rule.expr.function, current, window, rule.expr.quantile)
        buckets: dict[int, list[float]] = defaultdict(list)
        for ts, v in points:
            if ts <= now - window:
                buckets[int((now - window - ts) // window)].append(v)
        baseline = [
            b
            for b in (
                fn.compute(rule.expr.function, vs, window, rule.expr.quantile)
                for vs in buckets.values()
            )
            if b is not None
        ]
        condition = False
        if value is not None and len(baseline) >= rule.min_buckets:
            z = fn.robust_z(value, baseline)
            condition = (
                abs(z) >= rule.deviations
                if rule.direction is Direction.BOTH
                else (z if rule.direction is Direction.ABOVE else -z) >= rule.deviations
            )
        observations.append(
            Observation(
                group_labels(selector_key, rule.by), value, condition, not condition, rule.severity
            )
        )
    return observations


def _anomaly_points(
    rule: AnomalyRule, index: SeriesIndex, start: float, end: float
) -> dict[GroupKey, list[tuple[float, float]]]:
    if rule.expr.function is Function.RATIO:
        raise ValueError("anomaly rules take a single-selector expression")
    (selector,) = rule.expr.selectors()
    return index.values(selector, rule.by, start, end)


def observe_absence(rule: AbsenceRule, index: SeriesIndex, now: float) -> list[Observation]:
    (selector,) = rule.selectors()
    seen = index.last_seen(selector, rule.by)
    if not seen:
        seen = {
            group_key({}, rule.by) if not rule.by else tuple("" for _ in rule.by): float("-inf")
        }
    observations = []
    for key, last in seen.items():
        silent = now - last
        absent = silent >= rule.for_
        value = None if last == float("-inf") else silent
        observations.append(
            Observation(group_labels(key, rule.by), value, absent, not absent, rule.severity)
        )
    return observations


def alert_key(rule: str, group: Mapping[str, str]) -> str:
    return f"{rule}{labels_key(group)}"

"""Pure computations of rule expressions over points, and the robust statistics of anomalies."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ial_resilience.alerting.rules import Function, Op

MAD_SCALE = 1.4826  # makes the MAD a consistent estimator of the standard deviation


def nearest_rank(values: Sequence[float], quantile: float) -> float | None:
    """Nearest-rank percentile (``quantile`` in (0, 100]); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(quantile / 100.0 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2.0


def compute(
    function: Function, values: Sequence[float], window: float, quantile: float | None = None
) -> float | None:
    """``function`` of the values of one window (ratio is computed by :func:`ratio`)."""
    if function is Function.RATE:
        return sum(values) / window
    if function is Function.COUNT:
        return float(len(values))
    if not values:
        return None
    if function is Function.SUM:
        return float(sum(values))
    if function is Function.MEAN:
        return sum(values) / len(values)
    if function is Function.MAX:
        return max(values)
    if function is Function.MIN:
        return min(values)
    if function is Function.VALUE:
        return values[-1]
    if function is Function.PERCENTILE:
        return nearest_rank(values, quantile or 50.0)
    raise ValueError(f"{function} needs two selectors")


def ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator <= 0 else numerator / denominator


def robust_z(value: float, baseline: Sequence[float]) -> float:
    """|value − median| / (1.4826 × MAD) of the baseline; inf when the MAD is 0 and it moved."""
    center = median(baseline)
    mad = median([abs(x - center) for x in baseline]) * MAD_SCALE
    distance = value - center
    if mad == 0:
        return 0.0 if distance == 0 else math.copysign(math.inf, distance)
    return distance / mad


def holds(op: Op, value: float | None, threshold: float) -> bool:
    return value is not None and op.holds(value, threshold)

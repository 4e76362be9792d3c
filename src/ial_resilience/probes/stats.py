"""Statistics over probe samples, named as the spec's tolerances name them.

``success_rate``, ``error_rate``, ``count``, latency percentiles in milliseconds (``p50_ms``,
``p95_ms``, ``p99_ms``, ``mean_ms``, ``max_ms``, ``min_ms``) and value statistics
(``value_min``, ``value_max``, ``value_mean``, ``value_last``). A statistic that cannot be
computed (no samples, no values) is ``None``; a tolerance on it then does not hold.

Percentiles use the nearest-rank method on every sample given (exact, no interpolation).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from ial_resilience.probes.base import Sample

STATISTICS: tuple[str, ...] = (
    "success_rate",
    "error_rate",
    "count",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "mean_ms",
    "max_ms",
    "min_ms",
    "value_min",
    "value_max",
    "value_mean",
    "value_last",
)


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile ``q`` (0–100) of already sorted values; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def latency_statistics(latencies_ms: Iterable[float]) -> dict[str, float | None]:
    ordered = sorted(latencies_ms)
    return {
        "p50_ms": percentile(ordered, 50),
        "p95_ms": percentile(ordered, 95),
        "p99_ms": percentile(ordered, 99),
        "mean_ms": _mean(ordered),
        "max_ms": ordered[-1] if ordered else None,
        "min_ms": ordered[0] if ordered else None,
    }


def value_statistics(values: Sequence[float]) -> dict[str, float | None]:
    return {
        "value_min": min(values) if values else None,
        "value_max": max(values) if values else None,
        "value_mean": _mean(values),
        "value_last": values[-1] if values else None,
    }


def compute(samples: Sequence[Sample]) -> dict[str, float | None]:
    """Every statistic of :data:`STATISTICS` over ``samples`` (in the order they were taken)."""
    count = len(samples)
    ok = sum(1 for s in samples if s.ok)
    result: dict[str, float | None] = {
        "success_rate": ok / count if count else None,
        "error_rate": (count - ok) / count if count else None,
        "count": float(count),
    }
    result.update(latency_statistics(s.latency_ms for s in samples))
    result.update(value_statistics([s.value for s in samples if s.value is not None]))
    return result

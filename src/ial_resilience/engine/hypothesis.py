"""Tolerances evaluated over samples: each statistic against its ``Comparison``.

The spec's ``Tolerance`` maps a statistic name (``p95_ms``) to a ``Comparison`` with
``holds(x)`` and a ``str()`` giving the original text (``"<= 400"``). A statistic that could not
be computed (``None``: no samples) never holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ial_resilience.probes.base import Sample
from ial_resilience.probes.stats import compute


class Comparison(Protocol):
    def holds(self, x: float) -> bool: ...


@dataclass(frozen=True, slots=True)
class CheckResult:
    statistic: str
    expected: str
    actual: float | None
    holds: bool


@dataclass(frozen=True, slots=True)
class Verdict:
    """The result of one tolerance over one set of samples."""

    name: str
    holds: bool
    checks: tuple[CheckResult, ...]
    count: int

    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if not c.holds)

    def describe(self) -> str:
        failed = self.failures()
        if not failed:
            return f"{self.name}: holds"
        parts = ", ".join(f"{c.statistic}={_fmt(c.actual)} (expected {c.expected})" for c in failed)
        return f"{self.name}: {parts}"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def tolerance_items(tolerance: Any) -> list[tuple[str, Comparison]]:
    """(statistic, comparison) pairs of a tolerance given as a mapping or a model with fields."""
    if isinstance(tolerance, Mapping):
        pairs: Iterable[tuple[Any, Any]] = tolerance.items()
    elif hasattr(tolerance, "items"):
        pairs = tolerance.items()
    elif hasattr(tolerance, "root") and isinstance(tolerance.root, Mapping):
        pairs = tolerance.root.items()
    elif hasattr(tolerance, "model_dump"):
        pairs = ((name, getattr(tolerance, name)) for name in type(tolerance).model_fields)
    else:
        raise TypeError(f"cannot read tolerance {tolerance!r}")
    return [(str(name), comp) for name, comp in pairs if comp is not None]


def evaluate(name: str, tolerance: Any, samples: Sequence[Sample]) -> Verdict:
    """Evaluate every statistic of ``tolerance`` over ``samples``."""
    return evaluate_statistics(name, tolerance, compute(samples), len(samples))


def evaluate_statistics(
    name: str, tolerance: Any, stats: Mapping[str, float | None], count: int
) -> Verdict:
    """Evaluate ``tolerance`` over statistics already computed (e.g. by an Accumulator)."""
    checks = tuple(
        _check(statistic, comparison, stats.get(statistic))
        for statistic, comparison in tolerance_items(tolerance)
    )
    return Verdict(name, all(c.holds for c in checks), checks, count)


def _check(statistic: str, comparison: Comparison, actual: float | None) -> CheckResult:
    holds = actual is not None and bool(comparison.holds(actual))
    return CheckResult(statistic, str(comparison), actual, holds)

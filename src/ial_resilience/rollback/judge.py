"""The canary judge: the canary against the baseline replicas over the same window.

Latency: one-sided Mann-Whitney U (``scipy.stats.mannwhitneyu``, canary greater) plus its
effect size, the common-language effect ``P(canary > baseline)`` (as rank-biserial
``r = 2·CL − 1``) and the median difference. Errors: one-sided Fisher exact test on the
2×2 table (canary errors/oks against baseline errors/oks) plus the difference of the error
ratios. A side *fails* only when the test is significant (p < ``alpha``) **and** the effect
is at least the practical minimum (so a tiny, real but harmless shift never rolls back);
with fewer than ``min_samples`` requests on either side the verdict is ``inconclusive`` —
never pass or fail on too little data. Every verdict carries its numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from statistics import median
from typing import Any

from scipy.stats import fisher_exact, mannwhitneyu


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class JudgeConfig:
    alpha: float = 0.01  # per test, one-sided; see docs/ROLLBACK.md on repeated looks
    min_samples: int = 30  # requests on each side before any verdict
    min_latency_effect: float = 0.3  # rank-biserial r (0 = same, 1 = canary always slower)
    min_latency_increase_ms: float = 20.0  # median difference that matters to a user
    min_error_increase: float = 0.03  # error-ratio difference (3 percentage points)
    min_leak_per_s: float = 512 * 1024  # canary memory growth beyond the baseline's (B/s)
    min_memory_span_s: float = 4.0  # memory samples must span this long

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Samples:
    """One side's requests in the window: latencies (ms) and error/ok counts."""

    latencies_ms: tuple[float, ...]
    errors: int
    oks: int

    @property
    def requests(self) -> int:
        return self.errors + self.oks

    @property
    def error_ratio(self) -> float | None:
        return self.errors / self.requests if self.requests else None


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str
    canary_requests: int
    baseline_requests: int
    canary_error_ratio: float | None = None
    baseline_error_ratio: float | None = None
    error_p: float | None = None
    latency_p: float | None = None
    latency_effect: float | None = None  # rank-biserial r
    canary_p50_ms: float | None = None
    baseline_p50_ms: float | None = None
    failed: tuple[str, ...] = ()  # "errors", "latency", "memory"
    canary_memory_growth: float | None = None  # bytes/s, least-squares slope of RSS
    baseline_memory_growth: float | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = self.verdict.value
        data["failed"] = list(self.failed)
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in data.items()}


Memory = Sequence[tuple[float, float]]  # (unix s, RSS bytes) of one replica


def slope(points: Memory) -> float | None:
    """Least-squares slope (value per second) of ``points``; None below 3 points."""
    if len(points) < 3:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var <= 0:
        return None
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / var


def judge(
    canary: Samples,
    baseline: Samples,
    config: JudgeConfig = JudgeConfig(),
    memory: tuple[Memory, Sequence[Memory]] | None = None,
) -> Judgement:
    """The verdict on ``canary`` against ``baseline`` (same window), with its numbers.

    ``memory``: the canary's RSS samples and each baseline replica's; the canary fails on
    ``memory`` when its growth exceeds the fastest baseline's by ``min_leak_per_s`` over at
    least ``min_memory_span_s`` (a slow leak has neither errors nor latency yet).
    """
    short = min(
        canary.requests, baseline.requests, len(canary.latencies_ms), len(baseline.latencies_ms)
    )
    if short < config.min_samples:
        return Judgement(
            Verdict.INCONCLUSIVE,
            f"too little data: {canary.requests} canary and {baseline.requests} baseline "
            f"requests (need {config.min_samples} on each side)",
            canary.requests,
            baseline.requests,
        )
    error_p = _error_p(canary, baseline)
    error_diff = (canary.error_ratio or 0.0) - (baseline.error_ratio or 0.0)
    result = mannwhitneyu(canary.latencies_ms, baseline.latencies_ms, alternative="greater")
    u, latency_p = float(result.statistic), float(result.pvalue)
    effect = 2.0 * u / (len(canary.latencies_ms) * len(baseline.latencies_ms)) - 1.0
    c50, b50 = median(canary.latencies_ms), median(baseline.latencies_ms)
    failed = []
    if error_p < config.alpha and error_diff >= config.min_error_increase:
        failed.append("errors")
    if (
        latency_p < config.alpha
        and effect >= config.min_latency_effect
        and c50 - b50 >= config.min_latency_increase_ms
    ):
        failed.append("latency")
    numbers = (
        f"errors {canary.error_ratio:.1%} vs {baseline.error_ratio:.1%} (Fisher p={error_p:.2g}); "
        f"p50 {c50:.0f} vs {b50:.0f} ms (Mann-Whitney p={latency_p:.2g}, r={effect:.2f})"
    )
    grow_c = grow_b = None
    if memory is not None:
        grow_c, grow_b = _growth(memory, config)
        if grow_c is not None and grow_b is not None:
            numbers += f"; memory +{grow_c / 1024:.0f} vs +{grow_b / 1024:.0f} KiB/s"
            if grow_c - grow_b >= config.min_leak_per_s:
                failed.append("memory")
    verdict = Verdict.FAIL if failed else Verdict.PASS
    reason = (
        f"canary worse on {' and '.join(failed)}: " if failed else "canary as good: "
    ) + numbers
    return Judgement(
        verdict,
        reason,
        canary.requests,
        baseline.requests,
        canary_error_ratio=canary.error_ratio,
        baseline_error_ratio=baseline.error_ratio,
        error_p=error_p,
        latency_p=latency_p,
        latency_effect=effect,
        canary_p50_ms=c50,
        baseline_p50_ms=b50,
        failed=tuple(failed),
        canary_memory_growth=grow_c,
        baseline_memory_growth=grow_b,
    )


def _growth(
    memory: tuple[Memory, Sequence[Memory]], config: JudgeConfig
) -> tuple[float | None, float | None]:
    canary, baselines = memory

    def spans(points: Memory) -> bool:
        return len(points) >= 3 and points[-1][0] - points[0][0] >= config.min_memory_span_s

    if not spans(canary):
        return None, None
    slopes = [s for s in (slope(b) for b in baselines if spans(b)) if s is not None]
    if not slopes:
        return None, None
    return slope(canary), max(slopes)


def _error_p(canary: Samples, baseline: Samples) -> float:
    if canary.errors == 0:
        return 1.0  # the canary cannot be worse than anything with no error at all
    table = [[canary.errors, canary.oks], [baseline.errors, baseline.oks]]
    return float(fisher_exact(table, alternative="greater").pvalue)


def wilson_lower(errors: int, total: int, z: float = 1.96) -> float:
    """Lower bound of the Wilson score interval of ``errors / total`` (0 with no data)."""
    if total <= 0:
        return 0.0
    p = errors / total
    centre = p + z * z / (2 * total)
    margin = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return max(0.0, (centre - margin) / (1 + z * z / total))

"""The canary judge on synthetic samples: verdicts, their numbers, and the false-fail rate."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from ial_resilience.rollback.judge import JudgeConfig, Samples, Verdict, judge, slope, wilson_lower


def side(
    rng: random.Random, n: int, error_rate: float, mean_ms: float, sd: float = 10.0
) -> Samples:
    latencies = tuple(max(0.1, rng.gauss(mean_ms, sd)) for _ in range(n))
    errors = sum(rng.random() < error_rate for _ in range(n))
    return Samples(latencies, errors, n - errors)


def test_too_little_data_is_inconclusive_even_when_the_canary_fails_everything() -> None:
    rng = random.Random(1)
    verdict = judge(side(rng, 10, 1.0, 900), side(rng, 200, 0.0, 10))
    assert verdict.verdict is Verdict.INCONCLUSIVE
    assert "10 canary and 200 baseline" in verdict.reason
    assert verdict.error_p is None  # no test was run on too little data


def test_twenty_percent_errors_fail_on_errors_with_the_numbers() -> None:
    rng = random.Random(2)
    verdict = judge(side(rng, 100, 0.2, 20), side(rng, 100, 0.0, 20))
    assert verdict.verdict is Verdict.FAIL and verdict.failed == ("errors",)
    assert verdict.error_p is not None and verdict.error_p < 1e-3
    assert verdict.canary_error_ratio is not None and verdict.canary_error_ratio > 0.1
    assert "Fisher p=" in verdict.reason and verdict.to_json()["verdict"] == "fail"


def test_added_latency_fails_on_latency_with_its_effect_size() -> None:
    rng = random.Random(3)
    verdict = judge(side(rng, 60, 0.0, 170), side(rng, 60, 0.0, 20))
    assert verdict.failed == ("latency",)
    assert verdict.latency_effect is not None and verdict.latency_effect > 0.9


def test_a_significant_but_small_shift_passes() -> None:
    rng = random.Random(4)  # 3 ms slower: real, but under min_latency_increase_ms
    verdict = judge(side(rng, 2000, 0.0, 23, 2), side(rng, 2000, 0.0, 20, 2))
    assert verdict.latency_p is not None and verdict.latency_p < 0.01
    assert verdict.verdict is Verdict.PASS


def test_memory_growth_beyond_the_baseline_fails_and_short_spans_do_not_count() -> None:
    rng = random.Random(5)
    canary, baseline = side(rng, 50, 0.0, 20), side(rng, 50, 0.0, 20)
    leak = [(t, 1e8 + t * 2e6) for t in range(0, 8)]
    flat = [(t, 1e8 + (t % 2) * 1e4) for t in range(0, 8)]
    assert judge(canary, baseline, memory=(leak, [flat])).failed == ("memory",)
    assert judge(canary, baseline, memory=(flat, [flat])).verdict is Verdict.PASS
    short = judge(canary, baseline, memory=(leak[:3], [flat]))
    assert short.verdict is Verdict.PASS and short.canary_memory_growth is None


def test_slope_and_wilson_lower() -> None:
    assert slope([(0, 0), (1, 2), (2, 4)]) == 2.0
    assert slope([(0, 1), (0, 2), (0, 3)]) is None
    assert wilson_lower(0, 0) == 0.0 and wilson_lower(0, 100) == 0.0
    assert 0.12 < wilson_lower(20, 100) < 0.2


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    mean=st.floats(1, 500),
    sd=st.floats(0.5, 100),
    error_rate=st.floats(0, 0.3),
    n=st.integers(30, 120),
)
def test_identical_distributions_fail_no_more_than_the_stated_rate(
    seed: int, mean: float, sd: float, error_rate: float, n: int
) -> None:
    """Stated rate (JudgeConfig): two one-sided tests, so a false fail per judgement is at most
    2·alpha — checked with the practical minimums off (the raw tests) and with the defaults
    (alpha 0.01), each within 4 σ of the binomial."""
    rng = random.Random(seed)
    raw = JudgeConfig(alpha=0.05, min_latency_effect=-1, min_latency_increase_ms=-1e9,
                      min_error_increase=-1)  # fmt: skip
    trials, raw_fails, default_fails = 150, 0, 0
    for _ in range(trials):
        canary, baseline = side(rng, n, error_rate, mean, sd), side(rng, n, error_rate, mean, sd)
        raw_fails += judge(canary, baseline, raw).verdict is Verdict.FAIL
        default_fails += judge(canary, baseline).verdict is Verdict.FAIL
    for fails, alpha in ((raw_fails, raw.alpha), (default_fails, JudgeConfig().alpha)):
        rate = 2 * alpha
        assert fails / trials <= rate + 4 * math.sqrt(rate * (1 - rate) / trials)

"""When a scheduled suite is due: cron, min_interval, daily_limit, adaptive (a fake clock)."""

from __future__ import annotations

import calendar

import pytest

from ial_resilience.schedule import PastRun, decide
from ial_resilience.schedule.decide import next_due
from ial_resilience.spec.suite import Adaptive, Schedule


def at(text: str) -> float:
    """``"2026-12-07 03:00"`` (UTC) → Unix seconds."""
    day, clock = text.split()
    y, mo, d = map(int, day.split("-"))
    h, mi = map(int, clock.split(":"))
    return float(calendar.timegm((y, mo, d, h, mi, 0)))


def schedule(cron: str = "0 3 * * *", **kw: object) -> Schedule:
    return Schedule.model_validate({"cron": cron, **kw})


MONDAY = "2026-12-07"  # a Monday


def test_never_run_is_due_now() -> None:
    decision = decide(schedule(), [], at(f"{MONDAY} 12:00"))
    assert decision.due and decision.reason == "no run on record"


def test_next_cron_time_after_the_last_start() -> None:
    runs = [PastRun(at(f"{MONDAY} 03:00"), "passed")]
    assert next_due(schedule(), runs)[0] == at("2026-12-08 03:00")
    assert not decide(schedule(), runs, at("2026-12-08 02:59")).due
    assert decide(schedule(), runs, at("2026-12-08 03:00")).due


def test_weekday_cron_skips_the_weekend() -> None:
    runs = [PastRun(at("2026-12-11 03:00"), "passed")]  # Friday
    assert next_due(schedule("0 3 * * 1-5"), runs)[0] == at("2026-12-14 03:00")  # Monday


def test_after_a_failure_it_runs_sooner() -> None:
    adaptive = {"after_failure": 0.25, "after_passes": 5, "slow_down": 2.0}
    failed = [PastRun(at(f"{MONDAY} 03:00"), "deviated")]
    due, reason = next_due(schedule(adaptive=adaptive), failed)
    assert due == at(f"{MONDAY} 09:00")  # a quarter of the daily gap
    assert "deviated" in reason
    passed = [PastRun(at(f"{MONDAY} 03:00"), "passed")]
    assert next_due(schedule(adaptive=adaptive), passed)[0] == at("2026-12-08 03:00")


def test_after_a_pass_streak_it_runs_less_often() -> None:
    adaptive = Adaptive(after_failure=0.25, after_passes=3, slow_down=2.0)
    runs = [PastRun(at(f"2026-12-0{d} 03:00"), "passed") for d in (5, 6, 7)]
    due, reason = next_due(schedule(adaptive=adaptive.model_dump()), runs)
    assert due == at("2026-12-09 03:00")  # every other day
    assert "3 passes in a row" in reason
    broken = [*runs[:2], PastRun(at(f"{MONDAY} 03:00"), "aborted")]
    assert next_due(schedule(adaptive=adaptive.model_dump()), broken)[0] < at("2026-12-08 03:00")


def test_min_interval_holds_back_a_frequent_cron() -> None:
    runs = [PastRun(at(f"{MONDAY} 03:00"), "passed")]
    due, reason = next_due(schedule("*/10 * * * *", min_interval="6h"), runs)
    assert due == at(f"{MONDAY} 09:00") and "min_interval" in reason


def test_min_interval_also_bounds_the_adaptive_retry() -> None:
    adaptive = {"after_failure": 0.1}
    runs = [PastRun(at(f"{MONDAY} 03:00"), "deviated")]
    due, _ = next_due(schedule(min_interval="4h", adaptive=adaptive), runs)
    assert due == at(f"{MONDAY} 07:00")


def test_daily_limit_moves_to_the_next_day() -> None:
    runs = [PastRun(at(f"{MONDAY} 00:00"), "passed"), PastRun(at(f"{MONDAY} 01:00"), "passed")]
    due, reason = next_due(schedule("0 * * * *", daily_limit=2), runs)
    assert due == at("2026-12-08 00:00")
    assert "daily_limit 2" in reason
    one = runs[:1]
    assert next_due(schedule("0 * * * *", daily_limit=2), one)[0] == at(f"{MONDAY} 01:00")


@pytest.mark.parametrize("status", ["error", "inconclusive", "aborted"])
def test_every_non_pass_counts_as_a_failure(status: str) -> None:
    runs = [PastRun(at(f"{MONDAY} 03:00"), status)]
    due, _ = next_due(schedule(adaptive={"after_failure": 0.5}), runs)
    assert due == at(f"{MONDAY} 15:00")

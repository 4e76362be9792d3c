"""When a scheduled suite is due: a pure function of its schedule, its past runs and ``now``.

The rules, in order (times are Unix seconds, UTC):

1. never run → due now ("no run on record");
2. the base time is the first cron time after the last start;
3. adaptive, after a run that did not pass → ``last + after_failure × gap`` if sooner
   (``gap`` = the cron's usual gap between two times); after ``after_passes`` passes in a row
   → the first cron time after ``last + (slow_down - 1) × gap`` (cron times are skipped);
4. ``min_interval`` → never before ``last + min_interval``;
5. ``daily_limit`` → a UTC day with that many starts pushes the time to the first cron time of
   a later day.

A refused start (another run held the lock) is not a start: the suite stays due.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Sequence
from dataclasses import dataclass

from croniter import croniter

from ial_resilience.spec.suite import Schedule

PASSED = "passed"
DAY_S = 86400.0
_MAX_DAYS_PUSHED = 400


@dataclass(frozen=True)
class PastRun:
    """One start of a suite as the history has it (``status`` is the run's own word)."""

    started_at: float
    status: str


@dataclass(frozen=True)
class Decision:
    """``due`` at ``now``; ``next_at`` the time it is (or became) due; ``reason`` in words."""

    due: bool
    next_at: float
    reason: str

    def to_json(self) -> dict[str, object]:
        return {
            "due": self.due,
            "next_at": self.next_at,
            "next_at_utc": utc(self.next_at),
            "reason": self.reason,
        }


def utc(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def cron_next(cron: str, after: float) -> float:
    """The first time of ``cron`` strictly after ``after``."""
    return float(croniter(cron, after).get_next(float))


def cron_gap(cron: str, around: float) -> float:
    """The cron's gap between the two times that follow ``around`` (its usual period there)."""
    first = cron_next(cron, around)
    return cron_next(cron, first) - first


def pass_streak(runs: Sequence[PastRun]) -> int:
    """How many of the newest runs passed in a row."""
    streak = 0
    for run in sorted(runs, key=lambda r: r.started_at, reverse=True):
        if run.status != PASSED:
            break
        streak += 1
    return streak


def next_due(schedule: Schedule, runs: Sequence[PastRun]) -> tuple[float | None, str]:
    """The time the suite is next due (None: now, never run) and why."""
    if not runs:
        return None, "no run on record"
    last = max(runs, key=lambda r: r.started_at)
    at, reason = cron_next(schedule.cron, last.started_at), f"cron {schedule.cron}"
    adaptive = schedule.adaptive
    if adaptive is not None:
        gap = cron_gap(schedule.cron, last.started_at)
        streak = pass_streak(runs)
        if last.status != PASSED:
            sooner = last.started_at + adaptive.after_failure * gap
            if sooner < at:
                at, reason = sooner, f"last run {last.status}: {adaptive.after_failure:g} × gap"
        elif streak >= adaptive.after_passes and adaptive.slow_down > 1:
            later = cron_next(schedule.cron, last.started_at + (adaptive.slow_down - 1) * gap)
            at, reason = later, f"{streak} passes in a row: {adaptive.slow_down:g} × gap"
    if schedule.min_interval and at < last.started_at + schedule.min_interval:
        at, reason = last.started_at + schedule.min_interval, "min_interval after the last start"
    if schedule.daily_limit is not None:
        at, reason = _within_daily_limit(schedule, runs, at, reason)
    return at, reason


def _within_daily_limit(
    schedule: Schedule, runs: Sequence[PastRun], at: float, reason: str
) -> tuple[float, str]:
    assert schedule.daily_limit is not None
    for _ in range(_MAX_DAYS_PUSHED):
        day = day_start(at)
        starts = sum(1 for r in runs if day <= r.started_at < day + DAY_S)
        if starts < schedule.daily_limit:
            return at, reason
        at = cron_next(schedule.cron, day + DAY_S - 1e-3)
        reason = f"daily_limit {schedule.daily_limit} reached on {utc(day)[:10]}"
    return at, reason


def day_start(ts: float) -> float:
    """Midnight UTC of the day holding ``ts``."""
    tm = time.gmtime(ts)
    return float(calendar.timegm((tm.tm_year, tm.tm_mon, tm.tm_mday, 0, 0, 0)))


def decide(schedule: Schedule, runs: Sequence[PastRun], now: float) -> Decision:
    """Is the suite due at ``now``?"""
    at, reason = next_due(schedule, runs)
    if at is None:
        return Decision(True, now, reason)
    return Decision(at <= now, at, reason)

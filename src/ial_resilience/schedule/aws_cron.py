"""5-field cron (as in suite files) → EventBridge Scheduler's 6-field ``cron(...)``.

AWS differs from classic cron in three ways, each handled here:

- a sixth field, the year (``*``);
- exactly one of day-of-month and day-of-week must be ``?``: a ``*`` day-of-week becomes ``?``
  (else a ``*`` day-of-month does). Classic cron runs when *either* restricted field matches;
  AWS cannot say that, so a cron restricting both is refused (exit 3) with what to do;
- increments are written ``start/step`` (``*/15`` minutes → ``0/15``);
- day-of-week numbers: classic 0-7 with Sunday 0 (and 7), AWS 1-7 with Sunday 1. Numeric
  days are expanded (croniter) and renumbered; ``MON-FRI`` style names are the same in both.
  ``DAY#n`` (n-th weekday of the month) is kept with the day renumbered.
"""

from __future__ import annotations

import re

from croniter import croniter

from ial_resilience.errors import InputError
from ial_resilience.spec.suite import check_cron

_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_NTH = re.compile(r"^([0-7]|[A-Za-z]{3})#([1-5])$")


def _refuse(cron: str, why: str) -> InputError:
    return InputError(
        f"cron {cron!r} cannot run on EventBridge Scheduler: {why}",
        hint="restrict only one of day-of-month and day-of-week (e.g. '0 3 * * 1-5' or "
        "'0 3 1 * *'), or split it into two suites",
    )


def _aws_day(day: int) -> int:
    return day % 7 + 1


def _ranges(days: list[int]) -> str:
    """``[2, 3, 4, 6]`` → ``2-4,6``."""
    parts: list[str] = []
    start = prev = days[0]
    for day in [*days[1:], None]:
        if day is not None and day == prev + 1:
            prev = day
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if day is not None:
            start = prev = day
    return ",".join(parts)


def _day_of_week(cron: str, field: str) -> str:
    nth = _NTH.match(field)
    if nth:
        day = nth.group(1)
        number = int(day) if day.isdigit() else _NAMES.index(day.upper()[:3])
        return f"{_aws_day(number)}#{nth.group(2)}"
    if re.fullmatch(r"[A-Za-z,\-]+", field):
        return field.upper()  # names mean the same days on AWS
    expanded, nth_days = croniter.expand(cron)
    if nth_days:
        raise _refuse(cron, "a list mixing n-th weekdays (#) with other days")
    days = sorted({_aws_day(int(d)) for d in expanded[4]})
    return _ranges(days)


def _aws_step(field: str, first: str) -> str:
    """``*/15`` → ``0/15``: AWS documents increments as ``start/step``."""
    return f"{first}/{field[2:]}" if field.startswith("*/") else field


def aws_cron(cron: str) -> str:
    """``"0 3 * * 1-5"`` → ``"cron(0 3 ? * 2-6 *)"``; ``InputError`` if AWS cannot say it."""
    try:
        normal = check_cron(cron)
    except ValueError:
        raise InputError(
            f"{cron!r} is not a 5-field cron expression",
            hint="write minute hour day-of-month month day-of-week",
        ) from None
    minute, hour, dom, month, dow = normal.split()
    minute, hour = _aws_step(minute, "0"), _aws_step(hour, "0")
    dom, month = _aws_step(dom, "1"), _aws_step(month, "1")
    if dow in ("*", "?"):
        return f"cron({minute} {hour} {dom} {month} ? *)"
    if dom not in ("*", "?"):
        raise _refuse(cron, f"both day-of-month ({dom}) and day-of-week ({dow}) are restricted")
    return f"cron({minute} {hour} ? {month} {_day_of_week(cron, dow)} *)"

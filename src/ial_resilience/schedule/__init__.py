"""Scheduled chaos: when suites run on their own, locally and on AWS.

Public API::

    from ial_resilience.schedule import decide, Scheduler, PastRun, FakeClock, aws_cron
    decide(suite.schedule, [PastRun(started_at, "passed")], now)  # -> Decision(due, next_at, …)
    Scheduler(suites, runner, past_runs, clock, state_dir).run(once=True)   # `ialr schedule run`
    aws_cron("0 3 * * 1-5")  # -> "cron(0 3 ? * 2-6 *)"  (`ialr schedule deploy --aws`)
"""

from ial_resilience.schedule.aws_cron import aws_cron
from ial_resilience.schedule.clock import Clock, FakeClock, SystemClock
from ial_resilience.schedule.decide import Decision, PastRun, decide, next_due
from ial_resilience.schedule.scheduler import (
    Outcome,
    ScheduledSuite,
    Scheduler,
    SuiteResult,
    suite_key,
)

__all__ = [
    "Clock",
    "Decision",
    "FakeClock",
    "Outcome",
    "PastRun",
    "ScheduledSuite",
    "Scheduler",
    "SuiteResult",
    "SystemClock",
    "aws_cron",
    "decide",
    "next_due",
    "suite_key",
]

"""The bounded scheduler: due suites run one at a time; a held suite lock skips, nothing lost.

A fake clock drives time; the suite runner is a recording function (running a real suite is
``ialr ci``'s test); the lock is the engine's real ``RunLock``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from ial_resilience.errors import InputError
from ial_resilience.schedule import FakeClock, PastRun, ScheduledSuite, Scheduler, SuiteResult
from ial_resilience.schedule.scheduler import SuiteRunner, exit_code, suite_lock
from ial_resilience.spec.suite import Suite

T0 = 1_796_000_400.0  # 2026-11-29 01:00:00 UTC


def scheduled(title: str, cron: str, **schedule: object) -> ScheduledSuite:
    suite = Suite.model_validate(
        {"version": 1, "title": title, "experiments": [], "schedule": {"cron": cron, **schedule}}
    )
    return ScheduledSuite(Path(f"{title}.yaml"), suite, title)


class History:
    """Runs recorded so far, as the history store would give them back."""

    def __init__(self) -> None:
        self.runs: dict[str, list[PastRun]] = {}

    def __call__(self, key: str) -> Sequence[PastRun]:
        return self.runs.get(key, [])


def recording_runner(
    clock: FakeClock, history: History, statuses: list[str], ran: list[str]
) -> SuiteRunner:
    def run(item: ScheduledSuite) -> SuiteResult:
        status = statuses.pop(0) if statuses else "passed"
        ran.append(item.key)
        history.runs.setdefault(item.key, []).append(PastRun(clock.now(), status))
        clock.sleep(60)  # the suite takes a minute
        return SuiteResult(status, 0 if status == "passed" else 1, f"reports/{item.key}")

    return run


def test_runs_due_suites_and_sleeps_until_the_next(tmp_path: Path) -> None:
    clock, history, ran = FakeClock(T0), History(), []
    suites = [scheduled("hourly", "0 * * * *"), scheduled("nightly", "0 3 * * *")]
    sched = Scheduler(suites, recording_runner(clock, history, [], ran), history, clock, tmp_path)
    outcomes = sched.run(for_s=3 * 3600 + 30)
    # both never ran → due at once; then hourly at 02:00, 03:00, 04:00; nightly at 03:00
    assert ran == ["hourly", "nightly", "hourly", "hourly", "nightly", "hourly"]
    assert all(o.action == "ran" and o.status == "passed" for o in outcomes)
    assert clock.now() == pytest.approx(T0 + 3 * 3600 + 30)
    assert max(clock.slept) <= 60.0  # never sleeps longer than the poll interval
    lines = (tmp_path / "schedule" / "outcomes.jsonl").read_text().splitlines()
    assert [json.loads(line)["key"] for line in lines] == ran


def test_max_runs_and_once_bound_the_daemon(tmp_path: Path) -> None:
    clock, history, ran = FakeClock(T0), History(), []
    suites = [scheduled("often", "*/5 * * * *")]
    runner = recording_runner(clock, history, [], ran)
    Scheduler(suites, runner, history, clock, tmp_path).run(max_runs=3)
    assert len(ran) == 3
    Scheduler(suites, runner, history, clock, tmp_path).run(once=True)
    assert len(ran) == 3  # not due again at once: the last run ended a minute ago
    with pytest.raises(InputError, match="needs a bound"):
        Scheduler(suites, runner, history, clock, tmp_path).run()


def test_a_failure_brings_the_next_run_forward(tmp_path: Path) -> None:
    clock, history, ran = FakeClock(T0 + 2 * 3600), History(), []  # 03:00, the cron time
    suites = [scheduled("nightly", "0 3 * * *", adaptive={"after_failure": 0.25})]
    runner = recording_runner(clock, history, ["deviated", "passed"], ran)
    sched = Scheduler(suites, runner, history, clock, tmp_path)
    outcomes = sched.run(max_runs=2)
    assert [o.status for o in outcomes] == ["deviated", "passed"]
    assert outcomes[1].at - outcomes[0].at == pytest.approx(6 * 3600)  # a quarter day later
    assert exit_code(outcomes) == 1


def test_a_held_suite_lock_skips_with_the_reason_and_the_suite_stays_due(tmp_path: Path) -> None:
    clock, history, ran = FakeClock(T0), History(), []
    suites = [scheduled("nightly", "0 3 * * *")]
    runner = recording_runner(clock, history, [], ran)
    sched = Scheduler(suites, runner, history, clock, tmp_path)
    with suite_lock(tmp_path, "a suite started by `ialr ci`"):
        outcomes = sched.run(once=True)
    (skipped,) = outcomes
    assert (skipped.action, skipped.status, skipped.exit_code) == ("skipped", "skipped", 4)
    assert "another run holds the lock" in skipped.reason and "ialr ci" in skipped.reason
    assert ran == [] and exit_code(outcomes) == 4
    logged = json.loads((tmp_path / "schedule" / "outcomes.jsonl").read_text())
    assert logged["action"] == "skipped" and logged["reason"] == skipped.reason
    clock.sleep(31)  # after the retry delay, with the lock free, it runs
    assert [o.action for o in sched.run(once=True)] == ["ran"]


def test_a_session_start_counts_even_when_the_history_did_not_record_it(tmp_path: Path) -> None:
    clock, ran = FakeClock(T0), []
    forgetful = History()  # recording failed: the history stays empty

    def run(item: ScheduledSuite) -> SuiteResult:
        ran.append(item.key)
        return SuiteResult("passed", 0)

    suites = [scheduled("hourly", "0 * * * *", min_interval="2h")]
    Scheduler(suites, run, forgetful, clock, tmp_path).run(for_s=3 * 3600)
    assert len(ran) == 2  # 01:00 and 03:00, not every hour


def test_a_suite_without_schedule_is_refused(tmp_path: Path) -> None:
    suite = Suite.model_validate({"version": 1, "title": "t", "experiments": []})
    with pytest.raises(InputError, match="no schedule block"):
        Scheduler(
            [ScheduledSuite(Path("t.yaml"), suite, "t")],
            print,
            History(),
            FakeClock(T0),
            tmp_path,
        )

"""``ialr schedule run``: a bounded local daemon that starts due suites one at a time.

Each tick asks :func:`~ial_resilience.schedule.decide.decide` for every suite (its past runs
come from the history, INTERFACES §8), and runs the due ones under the suite lock (an
:class:`~ial_resilience.engine.lock.RunLock` on system ``suites`` in the state directory, which
``ialr ci`` holds too). A start the lock refuses is an outcome ``skipped`` with the reason, kept
in ``<state_dir>/schedule/outcomes.jsonl`` and printed; it is not a start, so the suite stays due.

Bounded: ``once`` (one tick), ``for_s`` (stop after this long), ``max_runs`` (stop after this
many suites ran); between ticks it sleeps until the next suite is due, at most ``poll_s``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from ial_resilience.engine.lock import RunLock
from ial_resilience.engine.plan import slug
from ial_resilience.errors import ExitCode, IalrError, InputError, LockHeld
from ial_resilience.schedule.clock import Clock
from ial_resilience.schedule.decide import Decision, PastRun, decide, utc
from ial_resilience.spec.suite import Schedule, Suite

SUITE_LOCK = "suites"
"""The lock's system name: one suite at a time per state directory (one lab)."""
POLL_S = 60.0
SAME_RUN_S = 120.0
"""A session start and a history record this close together are the same run."""
RETRY_S = 30.0
"""After a refused or failed start, wait this long before trying that suite again."""


@dataclass(frozen=True)
class ScheduledSuite:
    path: Path
    suite: Suite
    key: str

    @property
    def schedule(self) -> Schedule | None:
        return self.suite.schedule


def suite_key(suite: Suite) -> str:
    """The history key of a suite (INTERFACES §8): its title's slug."""
    return slug(suite.title)


@dataclass(frozen=True)
class SuiteResult:
    status: str
    exit_code: int
    report: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class Outcome:
    key: str
    title: str
    at: float
    action: str  # ran | skipped | error
    status: str
    exit_code: int
    reason: str
    report: str | None = None

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "at_utc": utc(self.at)}


class PastRuns(Protocol):
    def __call__(self, key: str) -> Sequence[PastRun]: ...


SuiteRunner = Callable[[ScheduledSuite], SuiteResult]


def suite_lock(state_dir: Path, title: str) -> RunLock:
    return RunLock(state_dir, SUITE_LOCK, f"suite {title}")


class Scheduler:
    def __init__(
        self,
        suites: Sequence[ScheduledSuite],
        runner: SuiteRunner,
        past_runs: PastRuns,
        clock: Clock,
        state_dir: Path,
        *,
        poll_s: float = POLL_S,
    ) -> None:
        unscheduled = [s.path for s in suites if s.schedule is None]
        if unscheduled:
            raise InputError(
                f"{', '.join(map(str, unscheduled))}: no schedule block",
                hint='add `schedule: {cron: "0 3 * * *"}` to the suite (see examples/suite.yaml)',
            )
        self.suites, self.runner, self.past_runs = list(suites), runner, past_runs
        self.clock, self.state_dir, self.poll_s = clock, state_dir, poll_s
        self.log_path = state_dir / "schedule" / "outcomes.jsonl"
        self._retry_at: dict[str, float] = {}
        self._started: dict[str, list[PastRun]] = {}

    def runs_of(self, key: str) -> list[PastRun]:
        """The history's runs, plus this session's starts the history does not hold (yet)."""
        recorded = list(self.past_runs(key))
        own = [
            run
            for run in self._started.get(key, [])
            if not any(abs(r.started_at - run.started_at) < SAME_RUN_S for r in recorded)
        ]
        return recorded + own

    def decisions(self) -> list[tuple[ScheduledSuite, Decision]]:
        now = self.clock.now()
        result = []
        for item in self.suites:
            assert item.schedule is not None
            result.append((item, decide(item.schedule, self.runs_of(item.key), now)))
        return result

    def tick(self) -> list[Outcome]:
        """Run every suite due now, one after the other."""
        outcomes = []
        for item, decision in self.decisions():
            if decision.due and self.clock.now() >= self._retry_at.get(item.key, 0.0):
                outcome = self._start(item, decision)
                if outcome.action != "ran":
                    self._retry_at[item.key] = self.clock.now() + RETRY_S
                outcomes.append(outcome)
        return outcomes

    def _start(self, item: ScheduledSuite, decision: Decision) -> Outcome:
        at = self.clock.now()
        title = item.suite.title
        try:
            with suite_lock(self.state_dir, title):
                result = self.runner(item)
            outcome = Outcome(
                item.key,
                title,
                at,
                "ran",
                result.status,
                result.exit_code,
                result.reason or decision.reason,
                result.report,
            )
            self._started.setdefault(item.key, []).append(PastRun(at, result.status))
        except LockHeld as error:
            outcome = Outcome(
                item.key, title, at, "skipped", "skipped", int(error.exit_code), error.message
            )
        except IalrError as error:
            outcome = Outcome(
                item.key,
                title,
                at,
                "error",
                "error",
                int(error.exit_code),
                f"{type(error).__name__}: {error.message}",
            )
        self._log(outcome)
        return outcome

    def _log(self, outcome: Outcome) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps(outcome.to_json()) + "\n")
            log.flush()
            os.fsync(log.fileno())

    def run(
        self,
        *,
        once: bool = False,
        for_s: float | None = None,
        max_runs: int | None = None,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> list[Outcome]:
        """Tick until a bound is reached; every outcome, in order."""
        if not once and for_s is None and max_runs is None:
            raise InputError(
                "the scheduler needs a bound",
                hint="pass --once, --for DURATION (e.g. --for 8h) or --max-runs N",
            )
        deadline = None if for_s is None else self.clock.now() + for_s
        outcomes: list[Outcome] = []
        while True:
            for outcome in self.tick():
                outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
                if max_runs is not None and _ran(outcomes) >= max_runs:
                    return outcomes
            now = self.clock.now()
            if once or (deadline is not None and now >= deadline):
                return outcomes
            wake = min(
                [max(d.next_at, self._retry_at.get(s.key, 0.0)) for s, d in self.decisions()]
                or [now + self.poll_s]
            )
            wake = min(max(wake, now + 1.0), now + self.poll_s)
            if deadline is not None:
                wake = min(wake, deadline)
            self.clock.sleep(wake - now)


def _ran(outcomes: Sequence[Outcome]) -> int:
    return sum(1 for o in outcomes if o.action == "ran")


def exit_code(outcomes: Sequence[Outcome]) -> int:
    """0 when nothing failed; else the worst code (a suite's, 4 for a skip, 5 for an error)."""
    order = [
        ExitCode.PROVIDER_ERROR,
        ExitCode.INVALID_INPUT,
        ExitCode.ABORTED,
        ExitCode.DEVIATED,
        ExitCode.INCONCLUSIVE,
        ExitCode.REFUSED,
    ]
    codes = {o.exit_code for o in outcomes}
    for code in order:
        if int(code) in codes:
            return int(code)
    return max(codes, default=0)

"""``ialr alerts test``: the alerting pipeline tested end to end.

Canary traffic (optional) and the evaluator run in background threads against one store;
after a warm-up the chaos experiment runs through the engine; evaluation continues until
every expected alert resolved or its deadline passed. Each expectation gets its time to
detect (first fault applied → alert fired) and time to resolve (last fault reverted → alert
resolved), and passes when both are within the file's bounds.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ial_resilience.alerting.accuracy import journal_windows
from ial_resilience.alerting.evaluator import Evaluator
from ial_resilience.alerting.pipeline_spec import Canary, Expectation, PipelineSpec
from ial_resilience.alerting.rules import RuleFile, load_rules
from ial_resilience.alerting.state import FiredAlert, history
from ial_resilience.errors import InputError
from ial_resilience.observability.store import Point, TelemetryStore

ExperimentRunner = Callable[[], Mapping[str, Any]]
"""Runs the experiment and returns its journal document."""


@dataclass(frozen=True)
class Outcome:
    expectation: Expectation
    fired_at: float | None
    resolved_at: float | None
    time_to_detect: float | None
    time_to_resolve: float | None

    @property
    def detected(self) -> bool:
        return self.time_to_detect is not None and (
            self.time_to_detect <= self.expectation.fire_within
        )

    @property
    def resolved(self) -> bool:
        return self.time_to_resolve is not None and (
            self.time_to_resolve <= self.expectation.resolve_within
        )

    @property
    def passed(self) -> bool:
        return self.detected and self.resolved

    def to_json(self) -> dict[str, Any]:
        return {
            "alert": self.expectation.alert,
            "group": dict(self.expectation.group),
            "fired_at": self.fired_at,
            "resolved_at": self.resolved_at,
            "time_to_detect_s": self.time_to_detect,
            "time_to_resolve_s": self.time_to_resolve,
            "fire_within_s": self.expectation.fire_within,
            "resolve_within_s": self.expectation.resolve_within,
            "passed": self.passed,
        }


@dataclass(frozen=True)
class PipelineResult:
    outcomes: tuple[Outcome, ...]
    fault_start: float | None
    fault_end: float | None
    journal_status: str | None
    store: Path

    @property
    def passed(self) -> bool:
        return bool(self.outcomes) and all(o.passed for o in self.outcomes)

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "fault_start": self.fault_start,
            "fault_end": self.fault_end,
            "experiment_status": self.journal_status,
            "store": str(self.store),
            "expectations": [o.to_json() for o in self.outcomes],
        }


class CanaryLoop:
    """Requests ``canary.url`` every ``canary.every`` and records outcome and latency."""

    def __init__(self, canary: Canary, store: TelemetryStore) -> None:
        self.canary = canary
        self.store = store
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="ialr-canary", daemon=True)

    def _once(self, client: httpx.Client) -> None:
        started = time.perf_counter()
        try:
            ok = client.get(self.canary.url).status_code < 500
        except httpx.HTTPError:
            ok = False
        elapsed_ms = (time.perf_counter() - started) * 1000
        now = time.time()
        labels = dict(self.canary.labels)
        self.store.write_points(
            [
                Point(self.canary.metric, 1.0, {**labels, "outcome": "ok" if ok else "error"}, now),
                Point(self.canary.latency_metric, elapsed_ms, labels, now),
            ]
        )

    def _loop(self) -> None:
        with httpx.Client(timeout=self.canary.timeout) as client:
            while not self.stop.is_set():
                started = time.monotonic()
                self._once(client)
                self.stop.wait(max(0.0, self.canary.every - (time.monotonic() - started)))

    def __enter__(self) -> CanaryLoop:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


def _matches(alert: FiredAlert, expectation: Expectation) -> bool:
    return alert.rule == expectation.alert and all(
        alert.labels.get(k) == v for k, v in expectation.group.items()
    )


def judge(expectation: Expectation, alerts: list[FiredAlert], start: float, end: float) -> Outcome:
    """The first matching alert fired at or after ``start``; its resolution after ``end``."""
    mine = [a for a in alerts if _matches(a, expectation) and a.fired_at >= start]
    if not mine:
        return Outcome(expectation, None, None, None, None)
    first = min(mine, key=lambda a: a.fired_at)
    resolved = first.resolved_at
    ttr = None if resolved is None else max(0.0, resolved - end)
    return Outcome(expectation, first.fired_at, resolved, first.fired_at - start, ttr)


def _check_expectations(spec: PipelineSpec, rules: RuleFile) -> None:
    names = {r.name for r in rules.rules}
    for expectation in spec.expect:
        if expectation.alert not in names:
            raise InputError(
                f"{spec.source}: expect names the alert {expectation.alert!r}, "
                f"which {spec.rules} does not define",
                hint=f"use one of {', '.join(sorted(names))}",
            )


def _pending(spec: PipelineSpec, store: TelemetryStore, start: float, end: float) -> bool:
    alerts = history(store, since=start - 1)
    return any(not judge(e, alerts, start, end).passed for e in spec.expect)


def run_pipeline(
    spec: PipelineSpec,
    runner: ExperimentRunner,
    *,
    store_path: Path | None = None,
    poll: float = 0.05,
) -> PipelineResult:
    """Canary + evaluator in the background, the experiment in the foreground, then judge."""
    rules = load_rules(spec.path(spec.rules))
    _check_expectations(spec, rules)
    path = store_path or (spec.path(spec.store) if spec.store else None)
    if path is None:
        path = Path(tempfile.mkdtemp(prefix="ialr-alerts-test-")) / "telemetry.db"
    store = TelemetryStore(path)
    evaluator = Evaluator(rules, store)
    stop = threading.Event()
    interval = spec.evaluate_every or rules.evaluate_every
    worker = threading.Thread(
        target=evaluator.run, args=(stop,), kwargs={"interval": interval}, daemon=True
    )
    canary = CanaryLoop(spec.canary, store) if spec.canary else None
    try:
        if canary:
            canary.__enter__()
        worker.start()
        stop.wait(spec.warmup)
        journal = runner()
        windows = journal_windows(journal)
        if not windows:
            return PipelineResult(
                tuple(judge(e, [], 0, 0) for e in spec.expect),
                None,
                None,
                journal.get("status"),
                path,
            )
        start, end = min(w.start for w in windows), max(w.end for w in windows)
        deadline = end + max(e.resolve_within for e in spec.expect) + interval
        while time.time() < deadline and _pending(spec, store, start, end):
            stop.wait(poll)
    finally:
        stop.set()
        if canary:
            canary.__exit__(None, None, None)
        worker.join(30)
    alerts = history(store, since=start - 1)
    outcomes = tuple(judge(e, alerts, start, end) for e in spec.expect)
    return PipelineResult(outcomes, start, end, journal.get("status"), path)


def engine_runner(spec: PipelineSpec, state_dir: Path | None, journal: Path) -> ExperimentRunner:
    """Run the spec's experiment through the engine's local provider (the agent)."""

    def run() -> Mapping[str, Any]:
        from ial_resilience.agent.state import resolve_state_dir
        from ial_resilience.engine.plan import new_run_id
        from ial_resilience.engine.providers.local import LocalProvider
        from ial_resilience.engine.run import Run, RunOptions
        from ial_resilience.spec import load_experiment, load_system

        system = load_system(spec.path(spec.system), spec.vars) if spec.system else None
        experiment_file = spec.path(spec.experiment)
        experiment = load_experiment(experiment_file, spec.vars, system)
        state = resolve_state_dir(state_dir)
        provider = LocalProvider.from_state_dir(state)
        options = RunOptions(
            state_dir=state,
            journal_path=journal,
            experiment_file=experiment_file,
            system=system.name if system else "local",
            run_id=new_run_id(experiment.title),
        )
        try:
            return Run(experiment, provider, options).execute().journal
        finally:
            provider.close()

    return run

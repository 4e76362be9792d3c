"""A rollout in the lab: canary first, judged against the baseline, then the rest — and the
rollback when a trigger fires (docs/ROLLBACK.md).

Every rollout writes its decision record ``<state_dir>/rollouts/<rollout-id>.json`` (trigger,
evidence, judgements with their numbers, times, the final deployment state) and one
``rollout`` history record (INTERFACES §8), whatever happened.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from ial_resilience.engine.journal import write_atomic
from ial_resilience.engine.lock import RunLock
from ial_resilience.errors import IalrError, InputError, ProviderError
from ial_resilience.lab.versions import Version, Versions
from ial_resilience.observability.store import TelemetryStore
from ial_resilience.rollback.judge import JudgeConfig, Judgement, Samples, Verdict, judge
from ial_resilience.rollback.lab import LabDeployment, LabExecutor
from ial_resilience.rollback.model import (
    DeploymentState,
    Phase,
    RollbackError,
    RollbackExecutor,
    RollbackRefused,
)
from ial_resilience.rollback.triggers import (
    MetricTrigger,
    Trigger,
    budget_used,
    chaos_trigger,
    predict_exhaustion,
    slo_rule,
)

ROLLOUTS_DIR = "rollouts"
LOCK_SYSTEM = "lab-deploy"  # not "lab": a post-deploy experiment takes the lab's run lock


@dataclass(frozen=True)
class RolloutOptions:
    canary_for: float = 10.0  # judge the canary this long before promoting it
    max_canary: float = 20.0  # still inconclusive then → abort (roll the canary back)
    settle: float = 1.0  # seconds after the canary is healthy before its samples count
    window: float = 10.0  # judge over the last this many seconds
    every: float = 0.5  # how often triggers are checked
    step_timeout: float = 20.0  # one replica replaced and healthy
    rollback_timeout: float = 30.0
    traffic_rps: float = 20.0  # own traffic through the LB while rolling out (0 = none)
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    metric_trigger: bool = True
    predictive: bool = True
    experiment: Path | None = None  # post-deploy chaos experiment


@dataclass
class Decision:
    """The decision record: filled as the rollout goes, written at the end."""

    id: str
    version: str
    previous: str | None
    executor: str
    known_good: bool
    started_at: float
    status: str = "running"  # completed | rolled_back | rollback_failed | aborted
    canary: str | None = None
    canary_started_at: float | None = None
    canary_healthy_at: float | None = None
    promoted_at: float | None = None
    detected_at: float | None = None
    rolled_back_at: float | None = None
    ended_at: float | None = None
    trigger: Trigger | None = None
    judgements: list[dict[str, Any]] = field(default_factory=list)
    rollback: dict[str, Any] | None = None
    state: DeploymentState | None = None
    error: str | None = None
    experiment: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def time_to_detect_s(self) -> float | None:
        if self.detected_at is None or self.canary_started_at is None:
            return None
        return self.detected_at - self.canary_started_at

    @property
    def time_to_rollback_s(self) -> float | None:
        if self.rolled_back_at is None or self.detected_at is None:
            return None
        return self.rolled_back_at - self.detected_at

    def to_json(self) -> dict[str, Any]:
        rolled_back = self.status in {"rolled_back", "rollback_failed"} or self.rollback is not None
        return {
            "id": self.id,
            "service": "api",
            "version": self.version,
            "previous": self.previous,
            "executor": self.executor,
            "status": self.status,
            "known_good": self.known_good,
            "canary": self.canary,
            "times": {
                "started_at": self.started_at,
                "canary_started_at": self.canary_started_at,
                "canary_healthy_at": self.canary_healthy_at,
                "promoted_at": self.promoted_at,
                "detected_at": self.detected_at,
                "rolled_back_at": self.rolled_back_at,
                "ended_at": self.ended_at,
            },
            "figures": {
                "rolled_back": rolled_back,
                "rollback_ok": (
                    self.status == "rolled_back"
                    or (
                        self.status == "aborted"
                        and self.rollback is not None
                        and bool(self.rollback.get("ok"))
                    )
                )
                if rolled_back
                else None,
                "time_to_detect_s": self.time_to_detect_s,
                "time_to_rollback_s": self.time_to_rollback_s,
                "false_rollback": (rolled_back and self.known_good) if rolled_back else False,
            },
            "trigger": self.trigger.to_json() if self.trigger else None,
            "judgements": self.judgements,
            "rollback": self.rollback,
            "state": self.state.to_json() if self.state else None,
            "error": self.error,
            "experiment": self.experiment,
            "options": self.options,
        }


def rollouts_dir(state_dir: Path) -> Path:
    return state_dir / ROLLOUTS_DIR


class Traffic:
    """Steady GET /orders through the LB while the rollout runs (the judge needs requests)."""

    def __init__(self, url: str, rps: float) -> None:
        self.url, self.rps = url.rstrip("/"), rps
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rollout-traffic", daemon=True)

    def _run(self) -> None:
        every = 1.0 / self.rps
        with httpx.Client(timeout=2.0) as client:
            next_at = time.monotonic()
            while not self._stop.is_set():
                with contextlib.suppress(httpx.HTTPError):
                    client.get(f"{self.url}/orders")
                next_at = max(next_at + every, time.monotonic() - every)  # no bursts after a stall
                self._stop.wait(max(0.0, next_at - time.monotonic()))

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        if self.rps <= 0:
            yield
            return
        self._thread.start()
        try:
            yield
        finally:
            self._stop.set()
            self._thread.join(timeout=5)


def side_samples(store: TelemetryStore, replicas: set[str], start: float, end: float) -> Samples:
    """Requests of ``replicas`` in ``(start, end]`` from the lab's telemetry store."""
    latencies: list[float] = []
    errors = oks = 0
    for series in store.points("http.latency_ms", {"service": "api"}, start, end):
        if series.labels.get("replica") in replicas:
            latencies.extend(series.values)
    for series in store.points("http.requests", {"service": "api"}, start, end):
        if series.labels.get("replica") in replicas:
            count = int(sum(series.values))
            if series.labels.get("outcome") == "error":
                errors += count
            else:
                oks += count
    return Samples(tuple(latencies), errors, oks)


class _Rollback(Exception):
    def __init__(self, trigger: Trigger) -> None:
        super().__init__(trigger.reason)
        self.trigger = trigger


class Rollout:
    """``Rollout(...).run()`` → the decision record (also written to disk)."""

    def __init__(
        self,
        *,
        state_dir: Path,
        lb_url: str,
        deployment: LabDeployment,
        store: TelemetryStore,
        version: str,
        options: RolloutOptions = RolloutOptions(),
        executor_factory: Callable[[str | None], RollbackExecutor] | None = None,
        run_experiment: Callable[[Path, Path], dict[str, Any]] | None = None,
        progress: Callable[[str], None] | None = None,
        force: bool = False,
    ) -> None:
        self.force = force
        self.state_dir = state_dir
        self.lb_url = lb_url
        self.deployment = deployment
        self.versions: Versions = deployment.versions
        self.store = store
        self.target: Version = self.versions.get(version)  # unknown → InputError (exit 3)
        self.options = options
        self.executor_factory = executor_factory or (lambda p: LabExecutor(deployment, p))
        self.run_experiment = run_experiment
        self.progress = progress or (lambda _: None)
        self._memory: dict[tuple[str, int], list[tuple[float, float]]] = {}
        if options.experiment is not None and run_experiment is None:
            raise InputError("a post-deploy experiment needs an experiment runner")

    def run(self) -> dict[str, Any]:
        lock = RunLock(self.state_dir, LOCK_SYSTEM, f"deploy {self.target.name}")
        with lock:  # LockHeld (exit 4): another rollout runs
            return self._locked()

    def _locked(self) -> dict[str, Any]:
        replicas = self.deployment.replicas()  # ProviderError (exit 5): control plane down
        running = set(replicas.values())
        if len(running) != 1 and not self.force:
            raise RollbackRefused(
                "the lab is in the middle of a rollout: replicas run "
                + ", ".join(f"{n}={v}" for n, v in sorted(replicas.items())),
                DeploymentState("lab", "api", None, None, Phase.ROLLING_OUT, str(replicas)),
                hint="`ialr deploy VERSION --force` puts VERSION on every replica (no rollback is "
                "possible from a mixed fleet: nothing says which version was the good one)",
            )
        previous = running.pop() if len(running) == 1 else None
        if previous == self.target.name:
            raise InputError(
                f"the lab already runs {previous} on every replica",
                hint="deploy another version (`ialr deploy --list`)",
            )
        executor = self.executor_factory(previous)
        started = time.time()
        rollout_id = (
            f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(started))}-"
            f"{self.target.name}-{uuid.uuid4().hex[:6]}"
        )
        decision = Decision(
            rollout_id,
            self.target.name,
            previous,
            executor.name,
            self.target.known_good,
            started,
            options=_options_json(self.options),
        )
        try:
            with Traffic(self.lb_url, self.options.traffic_rps).running():
                self._steps(decision, sorted(replicas), executor)
        except _Rollback as rollback:
            decision.trigger = rollback.trigger
            decision.detected_at = rollback.trigger.at
            self._roll_back(decision, executor, aborted=rollback.trigger.kind == "inconclusive")
        except (IalrError, KeyboardInterrupt) as error:
            reason = "interrupted" if isinstance(error, KeyboardInterrupt) else error.message
            self._stopped(decision, executor, reason)
        except Exception as error:  # a bug: never leave the fleet half-rolled unreported
            self._stopped(decision, executor, f"internal error: {error!r}")
            raise
        finally:
            decision.ended_at = time.time()
            if decision.state is None:
                decision.state = executor.state()
            self._write(decision)
        return decision.to_json()

    def _steps(self, decision: Decision, names: list[str], executor: RollbackExecutor) -> None:
        options, target = self.options, self.target
        metric = self._metric_trigger()
        canary, rest = names[0], names[1:]
        decision.canary = canary
        self.progress(f"canary {canary} → {target.name}")
        self.deployment.set_default(target)  # new replicas (autoscaler) start the new version
        decision.canary_started_at = time.time()
        self.deployment.replace(canary, target)
        if not self.deployment.wait_healthy({canary}, options.step_timeout):
            raise _Rollback(
                Trigger(
                    "canary",
                    f"canary {canary} not healthy within {options.step_timeout:.0f}s",
                    time.time(),
                    {},
                )
            )
        decision.canary_healthy_at = time.time()
        step_s = decision.canary_healthy_at - decision.canary_started_at
        judged_from = decision.canary_healthy_at + options.settle
        last: Judgement | None = None
        while True:
            now = time.time()
            self._check(metric)
            if now >= judged_from:
                baseline = {n for n, v in self.deployment.replicas().items() if n != canary}
                last = self._judge(decision, canary, baseline or set(rest), judged_from, now)
                if last.verdict is Verdict.FAIL:
                    raise _Rollback(Trigger("canary", last.reason, now, last.to_json()))
                self._predict(decision, len(names), judged_from, now, step_s, canary, baseline)
                elapsed = now - decision.canary_healthy_at
                if last.verdict is Verdict.PASS and elapsed >= options.canary_for:
                    break
                if elapsed >= options.max_canary:
                    raise _Rollback(
                        Trigger(
                            "inconclusive",
                            f"canary still inconclusive after "
                            f"{options.max_canary:.0f}s: {last.reason}",
                            now,
                            last.to_json(),
                        )
                    )
            time.sleep(options.every)
        decision.promoted_at = time.time()
        self.progress(f"canary passed: {last.reason if last else ''}; promoting")
        self._promote(metric)
        if options.experiment is not None and self.run_experiment is not None:
            self.progress(f"post-deploy experiment {options.experiment}")
            journal_path = rollouts_dir(self.state_dir) / f"{decision.id}-experiment.json"
            journal = self.run_experiment(options.experiment, journal_path)
            decision.experiment = {"status": journal.get("status"), "journal": str(journal_path)}
            found = chaos_trigger(journal, journal_path)
            if found is not None:
                raise _Rollback(found)
        self._check(metric)
        decision.status = "completed"
        decision.state = executor.state()

    def _promote(self, metric: MetricTrigger | None) -> None:
        """Replace every replica not yet on the target, one at a time (the fleet is read again
        before each: the autoscaler may add replicas, which start the new version, or remove
        some)."""
        options, target = self.options, self.target
        while True:
            pending = sorted(n for n, v in self.deployment.replicas().items() if v != target.name)
            if not pending:
                return
            name = pending[0]
            try:
                self.deployment.replace(name, target)
            except ProviderError:
                if name in self.deployment.replicas():
                    raise
                continue  # scaled in meanwhile: nothing to replace
            deadline = time.monotonic() + options.step_timeout
            while not self.deployment.wait_healthy({name}, options.every):
                self._check(metric)
                if name not in self.deployment.replicas():
                    break
                if time.monotonic() > deadline:
                    reason = f"{name} not healthy within {options.step_timeout:.0f}s"
                    raise _Rollback(Trigger("canary", reason, time.time(), {}))
            self._check(metric)

    def _metric_trigger(self) -> MetricTrigger | None:
        if not self.options.metric_trigger:
            return None
        from ial_resilience.rollback.triggers import lab_rules

        return MetricTrigger(lab_rules(), self.store)

    def _check(self, metric: MetricTrigger | None) -> None:
        if metric is not None and (found := metric.check()) is not None:
            raise _Rollback(found)

    def _sample_memory(self, since: float) -> None:
        """RSS of every replica now (psutil on the supervisor's pids; lab processes are local)."""
        now = time.time()
        try:
            pids = self.deployment.pids()
        except ProviderError:
            return
        for name, pid in pids.items():
            try:
                rss = float(psutil.Process(pid).memory_info().rss)
            except psutil.Error:
                continue
            self._memory.setdefault((name, pid), []).append((now, rss))
        for key, series in self._memory.items():
            self._memory[key] = [p for p in series if p[0] > since]

    def _judge(
        self, decision: Decision, canary: str, baseline: set[str], since: float, now: float
    ) -> Judgement:
        start = max(since, now - self.options.window)
        self._sample_memory(since)
        canary_mem = next((v for (n, _), v in self._memory.items() if n == canary), [])
        # the canary's newest process only: a pid replaced at rollout start is another series
        canary_mem = max(
            (v for (n, _), v in self._memory.items() if n == canary),
            key=lambda v: v[-1][0] if v else 0.0,
            default=canary_mem,
        )
        baseline_mem = [v for (n, _), v in self._memory.items() if n in baseline]
        result = judge(
            side_samples(self.store, {canary}, start, now),
            side_samples(self.store, baseline, start, now),
            self.options.judge,
            memory=(canary_mem, baseline_mem),
        )
        decision.judgements.append({"at": now, "window": [start, now], **result.to_json()})
        return result

    def _predict(
        self,
        decision: Decision,
        replicas: int,
        since: float,
        now: float,
        step_s: float,
        canary: str,
        baseline: set[str],
    ) -> None:
        if not self.options.predictive:
            return
        from ial_resilience.rollback.triggers import lab_rules

        rule = slo_rule(lab_rules())
        if rule is None:
            return
        window = max(w.long for w in rule.scaled_windows())
        c = side_samples(self.store, {canary}, since, now)
        b = side_samples(self.store, baseline, since, now)
        healthy_at = decision.canary_healthy_at or now
        projection = predict_exhaustion(
            objective=rule.objective,
            budget_window_s=window,
            budget_used=budget_used(self.store, rule, window, now),
            canary_errors=c.errors,
            canary_requests=c.requests,
            baseline_error_ratio=b.error_ratio or 0.0,
            replicas=replicas,
            new_replicas=1,
            canary_remaining_s=max(0.0, self.options.canary_for - (now - healthy_at)),
            step_s=step_s,
        )
        if projection.exhausted:
            raise _Rollback(
                Trigger(
                    "predictive",
                    f"error budget of {rule.name} would be exhausted before the rollout completes: "
                    f"{projection.budget_used:.0%} used + {projection.projected_use:.0%} projected",
                    now,
                    projection.to_json(),
                )
            )

    def _stopped(self, decision: Decision, executor: RollbackExecutor, reason: str) -> None:
        decision.error = reason
        decision.trigger = Trigger("error", f"rollout stopped: {reason}", time.time(), {})
        decision.detected_at = decision.trigger.at
        self._roll_back(decision, executor, aborted=True)

    def _roll_back(self, decision: Decision, executor: RollbackExecutor, *, aborted: bool) -> None:
        assert decision.trigger is not None
        self.progress(f"rolling back: {decision.trigger.reason}")
        try:
            outcome = executor.rollback(
                decision.trigger.reason, timeout=self.options.rollback_timeout
            )
        except (RollbackError, RollbackRefused) as error:
            decision.status = "rollback_failed"
            decision.state = error.state
            decision.rollback = {
                "ok": False,
                "error": error.message,
                "state": error.state.to_json(),
            }
            decision.error = error.message
            return
        decision.rollback = outcome.to_json()
        decision.rolled_back_at = outcome.ended_at
        decision.state = outcome.state
        decision.status = "aborted" if aborted else "rolled_back"

    def _write(self, decision: Decision) -> None:
        directory = rollouts_dir(self.state_dir)
        directory.mkdir(parents=True, exist_ok=True)
        write_atomic(directory / f"{decision.id}.json", decision.to_json())


def _options_json(options: RolloutOptions) -> dict[str, Any]:
    data = {k: v for k, v in vars(options).items() if k != "judge"}
    data["experiment"] = str(options.experiment) if options.experiment else None
    data["judge"] = options.judge.to_json()
    return data


def read_decision(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


__all__ = ["Decision", "Rollout", "RolloutOptions", "rollouts_dir"]

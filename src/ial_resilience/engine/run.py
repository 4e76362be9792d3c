"""The run lifecycle, as named phases emitting events to observers.

validate → safety → plan (dry run stops here) → steady state before → ledger → method (faults
applied on schedule; method probes and guardrails sampled concurrently; reverts at the end of
each duration, on a guardrail breach, on Ctrl-C/SIGTERM, on a provider error) → recovery →
steady state after → journal. Reverts run in ``finally`` and only for what was applied.

A provider that dies (the local agent killed) is noticed at once while faults are active (it is
asked every ``HEARTBEAT_S``) and at every phase boundary: the run then reverts what it can,
skips what is left and ends with status ``error``; faults whose revert the provider could not
confirm stay pending in the ledger for ``ialr chaos cleanup``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from ial_resilience.engine import journal as journal_mod
from ial_resilience.engine import plan as plan_mod
from ial_resilience.engine import safety
from ial_resilience.engine.hypothesis import Verdict
from ial_resilience.engine.ledger import Ledger, LedgerEvent
from ial_resilience.engine.lock import RunLock
from ial_resilience.engine.model import (
    AppliedFault,
    Event,
    EventKind,
    Evidence,
    FaultOutcome,
    Phase,
    PlannedFault,
    RevertReason,
    RunStatus,
)
from ial_resilience.engine.plan import Plan
from ial_resilience.engine.provider import Provider
from ial_resilience.engine.record import (
    RunOptions,
    RunRecord,
    RunResult,
    decide_status,
    time_to_abort_ms,
)
from ial_resilience.engine.samples import SampleRecorder
from ial_resilience.engine.sampling import (
    CheckSpec,
    GuardrailMonitor,
    MethodProbe,
    Sampler,
    sample_rounds,
    watch_recovery,
)
from ial_resilience.errors import FaultRejected, IalrError, InputError, ProviderError
from ial_resilience.probes.base import Probe

__all__ = ["Event", "Observer", "ProbeFactory", "Run", "RunOptions", "RunRecord", "RunResult"]

HEARTBEAT_S = 0.2
"""While faults are active, how often the engine checks that the provider is still alive."""


class Observer(Protocol):
    def on_event(self, event: Event) -> None: ...


ProbeFactory = Callable[[Any], Probe]


def _default_probe_factory(spec: Any) -> Probe:
    from ial_resilience.probes.factory import build_probe

    return build_probe(spec)


class Run:
    """One execution of an experiment through a provider."""

    def __init__(
        self,
        experiment: Any,
        provider: Provider,
        options: RunOptions,
        *,
        observers: Sequence[Observer] = (),
        probe_factory: ProbeFactory = _default_probe_factory,
    ) -> None:
        self.experiment = experiment
        self.provider = provider
        self.options = options
        self.observers = list(observers)
        self.probe_factory = probe_factory
        self.stop = threading.Event()
        self._probes: list[Probe] = []
        self._events_before_record: list[Event] = []
        self.record: RunRecord | None = None

    # -- events ---------------------------------------------------------------------------
    def emit(self, phase: Phase, kind: EventKind, message: str, **data: Any) -> None:
        event = Event.now(phase, kind, message, data)
        (self.record.events if self.record else self._events_before_record).append(event)
        for observer in self.observers:
            try:
                observer.on_event(event)
            except Exception:  # an observer never breaks the run; it is counted
                if self.record:
                    self.record.dropped_events += 1

    # -- phases before anything is touched ------------------------------------------------
    def prepare(self) -> Plan:
        """validate → safety → plan; raises InputError/SafetyRefusal/ProviderError."""
        self.emit(Phase.VALIDATE, EventKind.PHASE_START, "validating against the provider")
        plan_mod.validate(self.experiment, self.provider)
        targets = self.provider.resolve_targets(self.experiment)
        self.emit(Phase.SAFETY, EventKind.PHASE_START, "checking the safety policy")
        pairs = [(step.fault, targets[step.target]) for step in self.experiment.method]
        safety.check(
            self.options.policy,
            self.experiment.environment,
            pairs,
            allow_production=self.options.allow_production,
        )
        run_id = self.options.run_id or plan_mod.new_run_id(self.experiment.title)
        plan = plan_mod.make_plan(self.experiment, self.provider, targets, run_id)
        self.emit(Phase.PLAN, EventKind.PHASE_END, f"{len(plan.faults)} fault(s) planned")
        return plan

    def execute(self) -> RunResult:
        plan = self.prepare()
        if self.options.dry_run:
            return RunResult(RunStatus.PASSED, "dry run: nothing applied", plan, {}, None)
        with RunLock(self.options.state_dir, self.options.system, plan.title):
            self.provider.check_ready()
            return self._execute(plan)

    def _execute(self, plan: Plan) -> RunResult:
        record = RunRecord(plan, self.options, time.monotonic(), time.time())
        record.events.extend(self._events_before_record)
        self.record = record
        path = self.options.journal_path
        try:
            steady = self._checks("steady_state", self.experiment.steady_state)
            self._steady_state_before(record, steady)
            alive = self._provider_alive(record, Phase.STEADY_STATE_BEFORE)
            if alive and (not record.before or all(v.holds for v in record.before)):
                self._with_ledger(record, path, steady)
        except KeyboardInterrupt:
            record.interrupted = True
            self.emit(Phase.METHOD, EventKind.INTERRUPTED, "interrupted (Ctrl-C/SIGTERM)")
        finally:
            self.stop.set()
            for probe in self._probes:
                probe.close()
        record.status, record.reason = decide_status(record)
        record.complete = not record.interrupted
        record.ended_wall = time.time()
        self.emit(Phase.JOURNAL, EventKind.PHASE_END, f"status {record.status.value}")
        document = journal_mod.build(record)
        if path is not None:
            journal_mod.write_atomic(path, document)
        return RunResult(record.status, record.reason, plan, document, path)

    def _with_ledger(self, record: RunRecord, path: Path | None, steady: list[CheckSpec]) -> None:
        ledger = Ledger(self.options.state_dir, record.plan.run_id)
        try:
            if path is not None:
                journal_mod.write_atomic(path, journal_mod.build(record))  # complete: false
            self._method(record, ledger)
        finally:
            ledger.close()
        if record.interrupted or not any(o.applied for o in record.outcomes.values()):
            return
        if record.error is None:
            self._recovery(record, steady)
            if self._provider_alive(record, Phase.RECOVERY):
                self._steady_state_after(record, steady)
                self._provider_alive(record, Phase.STEADY_STATE_AFTER)

    def _provider_alive(self, record: RunRecord, phase: Phase) -> bool:
        """False (and the run's error) when the provider died; a probe that failed because of
        it then does not count against the system under test."""
        try:
            self.provider.check_alive()
        except ProviderError as error:
            record.error = record.error or error.message
            self.emit(phase, EventKind.PROVIDER_FAILED, error.message, hint=error.hint)
            return False
        return True

    # -- probes ---------------------------------------------------------------------------
    def _checks(self, section: str, checks: Sequence[Any]) -> list[CheckSpec]:
        specs = []
        for index, check in enumerate(checks):
            label = f"{section}[{index}] {check.probe.label}"
            probe = self.probe_factory(check.probe)
            self._probes.append(probe)
            recorder = self._recorder(label)
            samples = int(getattr(check, "samples", 1))
            specs.append(CheckSpec(label, probe, samples, check.every, check.tolerance, recorder))
        return specs

    def _recorder(self, label: str) -> SampleRecorder:
        assert self.record is not None
        recorder = SampleRecorder(self.record.t0_mono, cap=self.options.sample_cap)
        self.record.recorders[label] = recorder
        return recorder

    def _steady_state_before(self, record: RunRecord, steady: list[CheckSpec]) -> None:
        self.emit(Phase.STEADY_STATE_BEFORE, EventKind.PHASE_START, "sampling the steady state")
        record.before = sample_rounds(steady, self.stop)
        self._emit_verdicts(Phase.STEADY_STATE_BEFORE, record.before)

    def _steady_state_after(self, record: RunRecord, steady: list[CheckSpec]) -> None:
        self.emit(Phase.STEADY_STATE_AFTER, EventKind.PHASE_START, "sampling the steady state")
        record.after = sample_rounds(steady, self.stop)
        self._emit_verdicts(Phase.STEADY_STATE_AFTER, record.after)

    def _emit_verdicts(self, phase: Phase, verdicts: Sequence[Verdict]) -> None:
        for verdict in verdicts:
            self.emit(phase, EventKind.HYPOTHESIS, verdict.describe(), holds=verdict.holds)

    # -- method ---------------------------------------------------------------------------
    def _method(self, record: RunRecord, ledger: Ledger) -> None:
        self.emit(Phase.METHOD, EventKind.PHASE_START, "applying faults")
        abort = threading.Event()
        stop = threading.Event()
        method_probes = [MethodProbe(c) for c in self._checks("probes", self.experiment.probes)]
        monitors, samplers = self._guardrails(record, abort, stop)
        samplers += [
            Sampler(m.check.probe, m.check.every, m.check.recorder, m.on_sample, stop)
            for m in method_probes
        ]
        for sampler in samplers:
            sampler.start()
        active: dict[int, AppliedFault] = {}
        reason = RevertReason.ERROR
        try:
            reason = self._schedule(record, ledger, active, abort)
        except IalrError as error:  # provider refusal or bad input found while applying
            record.error = error.message
            self.emit(Phase.METHOD, EventKind.FAULT_FAILED, error.message)
        except KeyboardInterrupt:
            record.interrupted = True
            reason = RevertReason.INTERRUPTED
            self.emit(Phase.METHOD, EventKind.INTERRUPTED, "interrupted: reverting every fault")
        finally:
            self._revert_all(record, ledger, active, reason)
            stop.set()
            for sampler in samplers:
                sampler.join(timeout=10)
        record.breach = next((m.breach for m in monitors if m.breach), None)
        record.time_to_abort_ms = time_to_abort_ms(record, reason)
        record.during = [m.verdict() for m in method_probes]
        self._emit_verdicts(Phase.METHOD, record.during)

    def _guardrails(
        self, record: RunRecord, abort: threading.Event, stop: threading.Event
    ) -> tuple[list[GuardrailMonitor], list[Sampler]]:
        monitors: list[GuardrailMonitor] = []
        samplers: list[Sampler] = []
        for index, guardrail in enumerate(self.experiment.guardrails):
            label = f"guardrails[{index}] {guardrail.probe.label}"
            probe = self.probe_factory(guardrail.probe)
            self._probes.append(probe)
            monitor = GuardrailMonitor(
                label,
                guardrail.tolerance,
                guardrail.window,
                guardrail.min_samples,
                abort,
                lambda breach: self.emit(
                    Phase.METHOD, EventKind.GUARDRAIL_BREACH, breach.verdict.describe()
                ),
            )
            monitors.append(monitor)
            samplers.append(
                Sampler(probe, guardrail.every, self._recorder(label), monitor.on_sample, stop)
            )
        return monitors, samplers

    def _schedule(
        self,
        record: RunRecord,
        ledger: Ledger,
        active: dict[int, AppliedFault],
        abort: threading.Event,
    ) -> RevertReason:
        """Apply each fault at its offset, revert it when its duration ends; stop on abort."""
        t0 = time.monotonic()
        todo = sorted(record.plan.faults, key=lambda f: (f.after, f.index))
        while todo or active:
            if abort.is_set():
                return RevertReason.GUARDRAIL
            if not self._provider_alive(record, Phase.METHOD):
                return RevertReason.ERROR
            while todo and time.monotonic() >= t0 + todo[0].after:
                planned = todo.pop(0)
                with interrupts_deferred():  # applied ⇒ in `active` ⇒ reverted on Ctrl-C
                    active[planned.index] = self._apply(record, ledger, planned)
            for index, applied in sorted(active.items()):
                if time.monotonic() >= applied.applied_mono + applied.planned.duration:
                    del active[index]
                    self._revert(record, ledger, applied, RevertReason.DURATION_ENDED)
            wakeups = [t0 + f.after for f in todo[:1]]
            wakeups += [a.applied_mono + a.planned.duration for a in active.values()]
            if wakeups:
                abort.wait(min(HEARTBEAT_S, max(0.0, min(wakeups) - time.monotonic())))
        return RevertReason.DURATION_ENDED

    def _apply(self, record: RunRecord, ledger: Ledger, planned: PlannedFault) -> AppliedFault:
        ledger.write(
            LedgerEvent.INTENT,
            planned.key,
            fault=planned.fault,
            target=planned.target,
            provider=self.provider.name,
            expires_at=time.time() + planned.duration,
        )
        # The fault window starts when apply is called, not when it returns: a slow apply
        # (a failover, a remote API) is already degrading the target while it runs.
        started_wall, started_mono = time.time(), time.monotonic()
        try:
            applied = dataclasses.replace(
                self.provider.apply(planned), applied_wall=started_wall, applied_mono=started_mono
            )
        except IalrError as error:
            refused = nothing_applied(error)
            if refused:
                ledger.write(
                    LedgerEvent.REVERTED, planned.key, note="apply failed; nothing applied"
                )
            message = error.message if refused else f"apply not confirmed: {error.message}"
            record.outcomes[planned.index] = FaultOutcome(
                planned, None, None, None, None, message, apply_unconfirmed=not refused
            )
            raise
        ledger.write(
            LedgerEvent.APPLIED, planned.key, handles=list(applied.handles),
            mechanism=applied.mechanism,
        )  # fmt: skip
        record.outcomes[planned.index] = FaultOutcome(planned, applied, None, None, None)
        self.emit(
            Phase.METHOD,
            EventKind.FAULT_APPLIED,
            f"{planned.fault} on {planned.target} for {planned.duration:g}s",
            key=planned.key,
            mechanism=applied.mechanism,
            duration=planned.duration,
        )
        return applied

    def _revert(
        self, record: RunRecord, ledger: Ledger, applied: AppliedFault, reason: RevertReason
    ) -> None:
        planned = applied.planned
        try:
            evidence: Evidence | None = self.provider.revert(applied)
            error = None
        except ProviderError as exc:
            evidence, error = None, f"revert not confirmed: {exc.message}"
            record.error = record.error or error
        done = time.monotonic()
        if error is None:
            ledger.write(LedgerEvent.REVERTED, planned.key, reason=reason.value)
        record.outcomes[planned.index] = FaultOutcome(
            planned, applied, evidence, reason, done, error
        )
        landed = evidence.landed if evidence else None
        self.emit(
            Phase.REVERT,
            EventKind.FAULT_REVERTED if error is None else EventKind.FAULT_FAILED,
            error or f"{planned.fault} on {planned.target} reverted ({reason.value})",
            key=planned.key,
            landed=landed,
        )

    def _revert_all(
        self,
        record: RunRecord,
        ledger: Ledger,
        active: dict[int, AppliedFault],
        reason: RevertReason,
    ) -> None:
        """Revert every active fault at once (one thread each): an abort waits for the slowest
        revert, not for the sum of them."""
        pending = [active.pop(index) for index in sorted(active)]
        if len(pending) == 1:
            self._revert(record, ledger, pending[0], reason)
            return
        threads = [
            threading.Thread(target=self._revert, args=(record, ledger, applied, reason))
            for applied in pending
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    # -- recovery -------------------------------------------------------------------------
    def _recovery(self, record: RunRecord, steady: list[CheckSpec]) -> None:
        reverted = [o.reverted_mono for o in record.outcomes.values() if o.reverted_mono]
        since = max(reverted) if reverted else time.monotonic()
        within = float(self.experiment.recovery.within)
        self.emit(Phase.RECOVERY, EventKind.PHASE_START, f"waiting for recovery (≤ {within:g}s)")
        every = float(self.experiment.recovery.every)
        record.recovery = watch_recovery(steady, every, within, since, self.stop)
        ttr = record.recovery.time_to_recover
        message = f"recovered in {ttr:.2f}s" if ttr is not None else "not recovered in time"
        self.emit(Phase.RECOVERY, EventKind.PHASE_END, message, time_to_recover=ttr)


def nothing_applied(error: IalrError) -> bool:
    """An apply refused (FaultRejected, InputError) applied nothing; after any other error its
    fate is unknown (the provider may have applied it and died, or its answer was lost), so the
    fault stays pending in the ledger."""
    return isinstance(error, (FaultRejected, InputError))


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C/SIGTERM until the block is done, then deliver them to their handlers.

    A fault the provider applied must be in the engine's books before an interrupt can unwind
    the run; otherwise the fault would stay applied until its expiry. Only in the main thread
    (where Python runs signal handlers); elsewhere the block runs as is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, frame: object) -> None:
        caught.append(signum)

    signums = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, hold) for signum in signums}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for held in dict.fromkeys(caught):
            signal.raise_signal(held)

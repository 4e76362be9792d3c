"""Sampling probes: fixed rounds (steady state), background samplers (method probes and
guardrails) and the recovery watch. One thread per probe; a probe never raises (see probes)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ial_resilience.engine.hypothesis import Verdict, evaluate, evaluate_statistics
from ial_resilience.engine.samples import Accumulator, SampleRecorder
from ial_resilience.probes.base import Probe, Sample

RECOVERY_WINDOW = 5
"""Recovered = the last ``min(samples, RECOVERY_WINDOW)`` samples of every check hold."""


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One steady-state / method check as the engine samples it (built from the spec)."""

    label: str
    probe: Probe
    samples: int
    every: float
    tolerance: Any
    recorder: SampleRecorder


def _pace(next_at: float, every: float, stop: threading.Event) -> float:
    """Wait until the next slot (or ``stop``); return the slot after it."""
    now = time.monotonic()
    next_at = max(next_at + every, now)
    stop.wait(max(0.0, next_at - now))
    return next_at


def sample_round(check: CheckSpec, stop: threading.Event) -> Verdict:
    """``check.samples`` samples, ``every`` apart, then the verdict over them."""
    taken: list[Sample] = []
    next_at = time.monotonic() - check.every
    for _ in range(check.samples):
        next_at = _pace(next_at, check.every, stop)
        if stop.is_set():
            break
        sample = check.probe.sample()
        check.recorder.add(sample)
        taken.append(sample)
    return evaluate(check.label, check.tolerance, taken)


def sample_rounds(checks: Sequence[CheckSpec], stop: threading.Event) -> list[Verdict]:
    """Every check's round, concurrently (one thread each), verdicts in the checks' order."""
    verdicts: list[Verdict | None] = [None] * len(checks)

    def work(i: int) -> None:
        verdicts[i] = sample_round(checks[i], stop)

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(checks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [v for v in verdicts if v is not None]


class Sampler(threading.Thread):
    """Samples one probe every ``every`` seconds until stopped; hands each sample on."""

    def __init__(
        self,
        probe: Probe,
        every: float,
        recorder: SampleRecorder,
        on_sample: Callable[[Sample], None],
        stop: threading.Event,
    ) -> None:
        super().__init__(daemon=True, name=f"sampler {probe.name}")
        self.probe = probe
        self.every = every
        self.recorder = recorder
        self.on_sample = on_sample
        self.stop_event = stop

    def run(self) -> None:
        next_at = time.monotonic() - self.every
        while True:
            next_at = _pace(next_at, self.every, self.stop_event)
            if self.stop_event.is_set():
                return
            sample = self.probe.sample()
            self.recorder.add(sample)
            self.on_sample(sample)


class MethodProbe:
    """A method probe: exact statistics over every sample while faults are active."""

    def __init__(self, check: CheckSpec) -> None:
        self.check = check
        self.accumulator = Accumulator()
        self._lock = threading.Lock()

    def on_sample(self, sample: Sample) -> None:
        with self._lock:
            self.accumulator.add(sample)

    def verdict(self) -> Verdict:
        with self._lock:
            stats = self.accumulator.statistics()
            count = self.accumulator.count
        return evaluate_statistics(self.check.label, self.check.tolerance, stats, count)


@dataclass(frozen=True, slots=True)
class Breach:
    """The first guardrail sample whose window broke the tolerance."""

    label: str
    verdict: Verdict
    sample_t_mono: float
    detected_mono: float
    detected_wall: float


class GuardrailMonitor:
    """Sliding window of the last ``window`` seconds; the first breach sets ``abort``."""

    def __init__(
        self,
        label: str,
        tolerance: Any,
        window: float,
        min_samples: int,
        abort: threading.Event,
        on_breach: Callable[[Breach], None],
    ) -> None:
        self.label = label
        self.tolerance = tolerance
        self.window = window
        self.min_samples = min_samples
        self.abort = abort
        self.on_breach = on_breach
        self.samples: deque[Sample] = deque()
        self.breach: Breach | None = None
        self.evaluations = 0

    def on_sample(self, sample: Sample) -> None:
        now = time.monotonic()
        self.samples.append(sample)
        while self.samples and self.samples[0].t_mono < now - self.window:
            self.samples.popleft()
        if len(self.samples) < self.min_samples or self.breach is not None:
            return
        verdict = evaluate(self.label, self.tolerance, list(self.samples))
        self.evaluations += 1
        if not verdict.holds:
            self.breach = Breach(self.label, verdict, sample.t_mono, now, time.time())
            self.abort.set()
            self.on_breach(self.breach)


@dataclass(frozen=True, slots=True)
class RecoveryResult:
    recovered: bool
    time_to_recover: float | None
    verdicts: tuple[Verdict, ...]


def watch_recovery(
    checks: Sequence[CheckSpec],
    every: float,
    within: float,
    since_mono: float,
    stop: threading.Event,
) -> RecoveryResult:
    """Sample every check until the last samples of each hold, or ``within`` has passed.

    Time to recover is measured from ``since_mono`` (the last revert) to the first sample of
    the last check's holding window.
    """
    deadline = since_mono + within
    holding_from: list[float | None] = [None] * len(checks)
    verdicts: list[Verdict | None] = [None] * len(checks)

    def work(i: int) -> None:
        check = checks[i]
        window: deque[Sample] = deque(maxlen=min(check.samples, RECOVERY_WINDOW))
        next_at = time.monotonic() - every
        while time.monotonic() < deadline and not stop.is_set():
            sample = check.probe.sample()
            check.recorder.add(sample)
            window.append(sample)
            if len(window) == window.maxlen:
                verdict = evaluate(check.label, check.tolerance, list(window))
                verdicts[i] = verdict
                if verdict.holds:
                    holding_from[i] = window[0].t_mono
                    return
            next_at = _pace(next_at, every, stop)

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(checks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = [t for t in holding_from if t is not None]
    recovered = len(done) == len(checks)
    ttr = max(0.0, max(done) - since_mono) if recovered and done else (0.0 if recovered else None)
    return RecoveryResult(recovered, ttr, tuple(v for v in verdicts if v is not None))

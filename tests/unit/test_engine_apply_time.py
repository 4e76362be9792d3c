"""A fault's window starts when the engine calls apply, not when a slow apply returns."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from ial_resilience.engine.providers.memory import MemoryProvider
from ial_resilience.engine.run import interrupts_deferred
from tests.unit.test_engine_lifecycle import World, experiment, latency, run


class SlowApplyProvider(MemoryProvider):
    """An apply that takes 200 ms before the fault is in place (a failover, a remote API)."""

    def __init__(self) -> None:
        super().__init__()
        self.called_at = 0.0
        self.returned_at = 0.0

    def apply(self, planned: Any) -> Any:
        self.called_at = time.time()
        time.sleep(0.2)
        applied = super().apply(planned)
        self.returned_at = time.time()
        return applied


def test_a_slow_apply_starts_the_fault_window_when_apply_was_called(tmp_path: Path) -> None:
    provider = SlowApplyProvider()
    result, _ = run(experiment([latency(duration="300ms")]), provider, tmp_path, World())
    fault = result.journal["faults"][0]
    assert fault["applied_at"] <= provider.called_at + 0.01
    assert fault["applied_at"] < provider.returned_at - 0.15
    assert fault["reverted_t"] - fault["applied_t"] >= 0.3  # the window still lasts its duration


def test_an_interrupt_during_apply_is_delivered_once_the_fault_is_booked() -> None:
    booked: list[str] = []
    with pytest.raises(KeyboardInterrupt), interrupts_deferred():
        signal.raise_signal(signal.SIGINT)  # Ctrl-C while the provider applies
        booked.append("fault")  # still runs: the fault gets into the engine's books
    assert booked == ["fault"]

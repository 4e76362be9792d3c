"""Lifecycle ordering with the in-process provider: reverts in finally, only what was applied."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ial_resilience.engine import ledger as ledger_mod
from ial_resilience.engine.model import EventKind, Phase, RunStatus
from ial_resilience.engine.providers.memory import MemoryProvider
from ial_resilience.engine.run import Event, Run, RunOptions
from ial_resilience.errors import InputError
from ial_resilience.probes.base import Sample
from ial_resilience.spec.models import Experiment


class World:
    """What the fake probes measure; tests flip it from provider hooks."""

    def __init__(self) -> None:
        self.healthy = True
        self.guard_ok = True
        self.latency_ms = 1.0


class FakeProbe:
    def __init__(self, name: str, world: World) -> None:
        self._name = name
        self.world = world
        self.closed = False

    @property
    def name(self) -> str:
        return self._name

    def sample(self) -> Sample:
        ok = self.world.guard_ok if self._name.startswith("guard") else self.world.healthy
        now = time.monotonic()
        return Sample(1.0, ok, self.world.latency_ms, time.time(), now, None if ok else "down")

    def close(self) -> None:
        self.closed = True


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)


def experiment(method: list[dict[str, Any]], **extra: Any) -> Experiment:
    data: dict[str, Any] = {
        "version": 1,
        "title": "unit run",
        "environment": "lab",
        "targets": {"db": {"link": "api->db"}, "pay": {"link": "api->pay"}},
        "steady_state": [
            {
                "probe": {"name": "steady", "command": {"argv": "true"}},
                "samples": 3,
                "every": "5ms",
                "tolerance": {"success_rate": ">= 1"},
            }
        ],
        "method": method,
        "recovery": {"within": "1s", "every": "5ms"},
        **extra,
    }
    return Experiment.model_validate(data)


def latency(target: str = "db", duration: str = "100ms", after: str = "0s") -> dict[str, Any]:
    return {
        "fault": "network.latency",
        "target": target,
        "with": {"latency": "20ms"},
        "duration": duration,
        "after": after,
    }


GUARD = {
    "probe": {"name": "guard", "command": {"argv": "true"}},
    "every": "5ms",
    "window": "50ms",
    "tolerance": {"success_rate": ">= 1"},
}


def run(
    exp: Experiment, provider: MemoryProvider, tmp_path: Path, world: World, **options: Any
) -> tuple[Any, Recorder]:
    observer = Recorder()
    engine = Run(
        exp,
        provider,
        RunOptions(state_dir=tmp_path / "state", journal_path=tmp_path / "j.json", **options),
        observers=[observer],
        probe_factory=lambda spec: FakeProbe(spec.label, world),
    )
    return engine.execute(), observer


def test_passed_run_applies_then_reverts_and_writes_a_complete_journal(tmp_path: Path) -> None:
    provider = MemoryProvider()
    result, observer = run(experiment([latency()]), provider, tmp_path, World())
    assert result.status is RunStatus.PASSED
    key = result.plan.faults[0].key
    assert provider.calls == [("apply", key), ("revert", key)]
    journal = json.loads((tmp_path / "j.json").read_text())
    assert journal["schema"] == "ialr.journal/1"
    assert journal["complete"] is True
    assert journal["faults"][0]["landed"] is True
    assert journal["faults"][0]["revert_reason"] == "duration-ended"
    assert journal["hypothesis"]["before"][0]["holds"] is True
    assert journal["hypothesis"]["after"][0]["holds"] is True
    phases = [e.phase for e in observer.events if e.kind is EventKind.PHASE_START]
    assert phases == [
        Phase.VALIDATE,
        Phase.SAFETY,
        Phase.STEADY_STATE_BEFORE,
        Phase.METHOD,
        Phase.RECOVERY,
        Phase.STEADY_STATE_AFTER,
    ]
    entries = ledger_mod.read(next(ledger_mod.ledgers(tmp_path / "state")))
    assert [e.event.value for e in entries] == ["intent", "applied", "reverted"]


def test_fault_stays_applied_for_its_duration(tmp_path: Path) -> None:
    provider = MemoryProvider()
    result, _ = run(experiment([latency(duration="200ms")]), provider, tmp_path, World())
    fault = result.journal["faults"][0]
    assert fault["reverted_t"] - fault["applied_t"] >= 0.2


def test_steady_state_failing_before_injects_nothing(tmp_path: Path) -> None:
    world = World()
    world.healthy = False
    provider = MemoryProvider()
    result, _ = run(experiment([latency()]), provider, tmp_path, world)
    assert result.status is RunStatus.DEVIATED
    assert "BEFORE" in result.reason
    assert provider.calls == []
    assert result.journal["faults"][0]["applied"] is False


def test_guardrail_breach_aborts_and_reverts_only_what_was_applied(tmp_path: Path) -> None:
    world = World()

    def breach(_planned: Any) -> None:
        world.guard_ok = False

    provider = MemoryProvider(on_apply=breach)
    exp = experiment([latency(duration="5s"), latency("pay", after="3s")], guardrails=[GUARD])
    started = time.monotonic()
    result, _ = run(exp, provider, tmp_path, world)
    assert time.monotonic() - started < 3, "the run must stop at the breach, not at the end"
    assert result.status is RunStatus.ABORTED
    first, _second = result.plan.faults
    assert provider.calls == [("apply", first.key), ("revert", first.key)]
    assert provider.active == {}
    journal = result.journal
    assert journal["faults"][0]["revert_reason"] == "guardrail"
    assert journal["faults"][1]["applied"] is False
    assert journal["time_to_abort_ms"] is not None and journal["time_to_abort_ms"] < 1000
    assert journal["guardrail_breach"]["guardrail"].startswith("guardrails[0]")


def test_provider_error_reverts_applied_faults_and_reports_error(tmp_path: Path) -> None:
    provider = MemoryProvider(fail_on=frozenset({"network.loss"}))
    loss = {"fault": "network.loss", "target": "pay", "with": {"probability": 0.5}}
    exp = experiment([latency(duration="1s"), {**loss, "duration": "1s", "after": "20ms"}])
    result, _ = run(exp, provider, tmp_path, World())
    assert result.status is RunStatus.ERROR
    first, second = result.plan.faults
    assert provider.calls == [("apply", first.key), ("apply", second.key), ("revert", first.key)]
    assert result.journal["faults"][1]["error"]
    entries = ledger_mod.read(next(ledger_mod.ledgers(tmp_path / "state")))
    assert ledger_mod.pending(next(ledger_mod.ledgers(tmp_path / "state"))) == []
    assert len(entries) == 5


def test_fault_without_effect_is_inconclusive_never_passed(tmp_path: Path) -> None:
    result, _ = run(experiment([latency()]), MemoryProvider(landed=False), tmp_path, World())
    assert result.status is RunStatus.INCONCLUSIVE
    assert "network.latency on db" in result.reason


def test_recovery_over_budget_deviates(tmp_path: Path) -> None:
    world = World()
    provider = MemoryProvider(on_apply=lambda _p: setattr(world, "healthy", False))
    result, _ = run(experiment([latency()]), provider, tmp_path, world)
    assert result.status is RunStatus.DEVIATED
    assert "not recovered within 1s" in result.reason
    assert result.journal["recovery"]["recovered"] is False


def test_recovery_time_is_measured(tmp_path: Path) -> None:
    world = World()
    provider = MemoryProvider(
        on_apply=lambda _p: setattr(world, "healthy", False),
        on_revert=lambda _a: threading.Timer(0.2, setattr, (world, "healthy", True)).start(),
    )
    result, _ = run(experiment([latency()]), provider, tmp_path, world)
    assert result.status is RunStatus.PASSED
    assert 0.15 <= result.journal["time_to_recover_s"] < 1.0


def test_method_probe_over_tolerance_deviates(tmp_path: Path) -> None:
    world = World()
    provider = MemoryProvider(on_apply=lambda _p: setattr(world, "latency_ms", 250.0))
    provider.on_revert = lambda _a: setattr(world, "latency_ms", 1.0)
    probe = {
        "probe": {"name": "api", "command": {"argv": "true"}},
        "every": "10ms",
        "tolerance": {"p95_ms": "<= 150"},
    }
    result, _ = run(
        experiment([latency(duration="200ms")], probes=[probe]), provider, tmp_path, world
    )
    assert result.status is RunStatus.DEVIATED
    assert "during the faults" in result.reason and "p95_ms=250" in result.reason


def test_overlapping_faults_apply_and_revert_in_time_order(tmp_path: Path) -> None:
    provider = MemoryProvider()
    exp = experiment([latency(duration="300ms"), latency("pay", duration="100ms", after="100ms")])
    result, _ = run(exp, provider, tmp_path, World())
    a, b = (f.key for f in result.plan.faults)
    assert provider.calls == [("apply", a), ("apply", b), ("revert", b), ("revert", a)]


def test_dry_run_touches_nothing(tmp_path: Path) -> None:
    provider = MemoryProvider()
    result, _ = run(experiment([latency()]), provider, tmp_path, World(), dry_run=True)
    assert provider.calls == []
    assert len(result.plan.faults) == 1
    assert not (tmp_path / "state").exists()
    assert not (tmp_path / "j.json").exists()


def test_unsupported_fault_names_fault_and_provider(tmp_path: Path) -> None:
    provider = MemoryProvider(unsupported=frozenset({"network.latency"}))
    with pytest.raises(InputError, match=r"network.latency.*'memory' provider"):
        run(experiment([latency()]), provider, tmp_path, World())
    assert provider.calls == []


def test_interrupt_reverts_and_marks_the_journal_incomplete(tmp_path: Path) -> None:
    main = threading.main_thread().ident
    assert main is not None

    def interrupt(_planned: Any) -> None:
        threading.Timer(0.05, signal.pthread_kill, (main, signal.SIGINT)).start()

    provider = MemoryProvider(on_apply=interrupt)
    result, _ = run(experiment([latency(duration="5s")]), provider, tmp_path, World())
    assert result.status is RunStatus.ABORTED
    assert provider.active == {}
    journal = json.loads((tmp_path / "j.json").read_text())
    assert journal["complete"] is False
    assert journal["faults"][0]["revert_reason"] == "interrupted"


def test_probes_are_closed(tmp_path: Path) -> None:
    made: list[FakeProbe] = []
    world = World()

    def factory(spec: Any) -> FakeProbe:
        made.append(FakeProbe(spec.label, world))
        return made[-1]

    exp = experiment([latency()], guardrails=[GUARD])
    Run(exp, MemoryProvider(), RunOptions(state_dir=tmp_path), probe_factory=factory).execute()
    assert made and all(p.closed for p in made)

"""An in-process provider that applies nothing real: it records calls. For tests of the engine
and of tools built on it (a test double users need too, so it ships in the package)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ial_resilience.engine.ledger import PendingFault
from ial_resilience.engine.model import AppliedFault, Evidence, PlannedFault, ResolvedTarget
from ial_resilience.engine.provider import CleanupResult
from ial_resilience.errors import FaultRejected
from ial_resilience.faults.vocabulary import FAULTS

PROBE_KINDS = frozenset({"http", "tcp", "sql", "process", "metric", "command"})


class MemoryProvider:
    """Records ``apply``/``revert`` calls; ``landed`` decides the evidence; ``fail_on`` names
    faults whose apply raises :class:`FaultRejected`; ``on_apply``/``on_revert`` hooks let a
    test change the world (e.g. make a probe start failing)."""

    name = "memory"

    def __init__(
        self,
        *,
        landed: bool | None = True,
        fail_on: frozenset[str] = frozenset(),
        unsupported: frozenset[str] = frozenset(),
        on_apply: Callable[[PlannedFault], None] | None = None,
        on_revert: Callable[[AppliedFault], None] | None = None,
    ) -> None:
        self.landed = landed
        self.fail_on = fail_on
        self.unsupported = unsupported
        self.on_apply = on_apply
        self.on_revert = on_revert
        self.calls: list[tuple[str, str]] = []
        self.active: dict[str, AppliedFault] = {}
        self.cleaned: list[str] = []
        self._lock = threading.Lock()

    def supported_faults(self) -> frozenset[str]:
        return frozenset(FAULTS) - self.unsupported

    def supported_probes(self) -> frozenset[str]:
        return PROBE_KINDS

    def resolve_targets(self, experiment: Any) -> Mapping[str, ResolvedTarget]:
        resolved = {}
        for name, target in experiment.targets.items():
            replicas = target.replicas if target.kind.value == "service" else None
            resolved[name] = ResolvedTarget(name, target.kind.value, target.name, replicas, 1)
        return resolved

    def check_ready(self) -> None:
        """Always ready."""

    def check_alive(self) -> None:
        """Always alive: it lives in the run's own process."""

    def apply(self, planned: PlannedFault) -> AppliedFault:
        with self._lock:
            self.calls.append(("apply", planned.key))
        if planned.fault in self.fail_on:
            raise FaultRejected(f"{planned.fault} refused by the memory provider")
        applied = AppliedFault(
            planned, self.name, "memory", (planned.key,), time.time(), time.monotonic(),
            time.time() + planned.duration,
        )  # fmt: skip
        self.active[planned.key] = applied
        if self.on_apply:
            self.on_apply(planned)
        return applied

    def verify(self, applied: AppliedFault) -> Evidence:
        return Evidence(self.landed, {"calls": len(self.calls)})

    def revert(self, applied: AppliedFault) -> Evidence:
        with self._lock:
            self.calls.append(("revert", applied.planned.key))
        self.active.pop(applied.planned.key, None)
        if self.on_revert:
            self.on_revert(applied)
        return self.verify(applied)

    def cleanup(self, pending: Sequence[PendingFault]) -> list[CleanupResult]:
        results = []
        for item in pending:
            key = item.intent.key
            gone = self.active.pop(key, None) is None
            self.cleaned.append(key)
            results.append(
                CleanupResult(
                    key, item.intent.run_id, str(item.intent.data.get("fault", "")),
                    () if gone else (key,), (key,) if gone else (),
                )
            )  # fmt: skip
        return results

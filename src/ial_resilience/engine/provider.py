"""The provider seam: how faults are carried out and targets resolved.

The engine only talks to this protocol; the local provider (the agent) lives in
``engine/providers/local.py``. A provider raises :class:`~ial_resilience.errors.ProviderError`
(or a subclass) when it cannot do what was asked, and never leaves a half-applied fault. An
``apply`` that raises :class:`~ial_resilience.errors.FaultRejected` or ``InputError`` has applied
nothing; after any other error (the answer was lost, the provider died) the engine cannot tell,
and keeps the fault pending in the ledger for ``ialr chaos cleanup``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ial_resilience.engine.ledger import PendingFault
from ial_resilience.engine.model import AppliedFault, Evidence, PlannedFault, ResolvedTarget


@dataclass(frozen=True, slots=True)
class CleanupResult:
    key: str
    run_id: str
    fault: str
    reverted: tuple[str, ...]
    already_gone: tuple[str, ...]
    error: str | None = None
    note: str | None = None  # how it ended when nothing had to be reverted (e.g. the agent died)


class Provider(Protocol):
    @property
    def name(self) -> str: ...

    def supported_faults(self) -> frozenset[str]: ...

    def supported_probes(self) -> frozenset[str]: ...

    def resolve_targets(self, experiment: Any) -> Mapping[str, ResolvedTarget]:
        """Every target of the experiment, or a ProviderError/InputError naming the missing one."""
        ...

    def check_ready(self) -> None:
        """Raise a ProviderError when the provider cannot be used (unreachable, bad token)."""
        ...

    def check_alive(self) -> None:
        """Raise a ProviderError when the provider died since it was ready (the local agent's
        process is gone). Called a few times a second while faults are active: it must be cheap
        and must not block."""
        ...

    def apply(self, planned: PlannedFault) -> AppliedFault: ...

    def verify(self, applied: AppliedFault) -> Evidence: ...

    def revert(self, applied: AppliedFault) -> Evidence: ...

    def cleanup(self, pending: Sequence[PendingFault]) -> list[CleanupResult]: ...

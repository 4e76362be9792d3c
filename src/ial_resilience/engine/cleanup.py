"""``ialr chaos cleanup``: revert at once every fault a ledger says may still be applied.

First it repairs what dead agents of the state dir left (processes they paused or spawned, see
:mod:`ial_resilience.agent.repair`); with no agent running, pending local faults are marked as
ended with the agent (:mod:`ial_resilience.engine.providers.local_gone`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from ial_resilience.agent.repair import repair_dead_agents
from ial_resilience.engine import ledger as ledger_mod
from ial_resilience.engine.ledger import LedgerEntry, LedgerEvent, PendingFault
from ial_resilience.engine.provider import CleanupResult
from ial_resilience.errors import InputError


class Cleaner(Protocol):
    """What cleanup needs of a provider."""

    def cleanup(self, pending: Sequence[PendingFault]) -> list[CleanupResult]: ...


def _provider_for(name: str, state_dir: Path) -> Cleaner:
    if name == "local":
        from ial_resilience.engine.providers.local_gone import local_cleaner

        return local_cleaner(state_dir)
    raise InputError(
        f"the ledger names provider {name!r}, which this version cannot clean up",
        hint="clean it up with the tool that ran it",
    )


def cleanup_all(state_dir: Path, providers: dict[str, Cleaner] | None = None) -> dict[str, Any]:
    """Repair what dead agents left, then read every ledger under ``state_dir``, revert what is
    pending and mark it cleaned. ``repaired`` is in the answer only when a dead agent was."""
    repaired = repair_dead_agents(state_dir)
    paths = list(ledger_mod.ledgers(state_dir))
    pending = [p for path in paths for p in ledger_mod.pending(path)]
    by_provider: dict[str, list[PendingFault]] = {}
    for item in pending:
        by_provider.setdefault(str(item.intent.data.get("provider", "local")), []).append(item)
    chosen = dict(providers or {})
    results: list[CleanupResult] = []
    for name, items in sorted(by_provider.items()):
        provider = chosen.get(name) or _provider_for(name, state_dir)
        results.extend(provider.cleanup(items))
    _mark_cleaned(pending, results)
    report: dict[str, Any] = {
        "ledgers": len(paths),
        "pending": len(pending),
        "reverted": sum(len(r.reverted) for r in results),
        "results": [
            asdict(r) | {"reverted": list(r.reverted), "already_gone": list(r.already_gone)}
            for r in results
        ],
    }
    if repaired:
        report["repaired"] = [r.to_json() for r in repaired]
    return report


def _mark_cleaned(pending: list[PendingFault], results: list[CleanupResult]) -> None:
    paths = {item.intent.key: item.path for item in pending}
    for result in results:
        if result.error is None:
            data: dict[str, Any] = {"reverted": list(result.reverted)}
            if result.note:
                data["note"] = result.note
            entry = LedgerEntry(result.run_id, LedgerEvent.CLEANED, result.key, time.time(), data)
            ledger_mod.append(paths[result.key], entry)

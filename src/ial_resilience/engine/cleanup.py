"""``ialr chaos cleanup``: revert at once every fault a ledger says may still be applied."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ial_resilience.engine import ledger as ledger_mod
from ial_resilience.engine.ledger import LedgerEntry, LedgerEvent, PendingFault
from ial_resilience.engine.provider import CleanupResult, Provider
from ial_resilience.errors import InputError


def _provider_for(name: str, state_dir: Path) -> Provider:
    if name == "local":
        from ial_resilience.engine.providers.local import LocalProvider

        return LocalProvider.from_state_dir(state_dir)
    raise InputError(
        f"the ledger names provider {name!r}, which this version cannot clean up",
        hint="clean it up with the tool that ran it",
    )


def cleanup_all(state_dir: Path, providers: dict[str, Provider] | None = None) -> dict[str, Any]:
    """Read every ledger under ``state_dir``, revert what is pending, mark it cleaned."""
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
    return {
        "ledgers": len(paths),
        "pending": len(pending),
        "reverted": sum(len(r.reverted) for r in results),
        "results": [
            asdict(r) | {"reverted": list(r.reverted), "already_gone": list(r.already_gone)}
            for r in results
        ],
    }


def _mark_cleaned(pending: list[PendingFault], results: list[CleanupResult]) -> None:
    paths = {item.intent.key: item.path for item in pending}
    for result in results:
        if result.error is None:
            entry = LedgerEntry(
                result.run_id, LedgerEvent.CLEANED, result.key, time.time(),
                {"reverted": list(result.reverted)},
            )  # fmt: skip
            ledger_mod.append(paths[result.key], entry)

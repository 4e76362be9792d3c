"""The fault ledger: what a run meant to apply, applied and reverted, fsync-ed line by line.

One JSON-lines file per run, ``<state>/ledger/<run-id>.jsonl``. Entries, in order of writing:

- ``intent``   before the provider is asked (key, fault, target, provider, expires_at);
- ``applied``  after the provider answered (handles it created, mechanism);
- ``reverted`` after the provider reverted it (or it failed to apply: nothing left);
- ``cleaned``  written by ``ialr chaos cleanup`` after reverting a leftover.

A fault whose key has an ``intent`` and no ``reverted``/``cleaned`` entry may still be active:
the engine died between the two. :func:`pending` finds those; cleanup reverts them through
the provider, which derives its handles from the key, so even an intent without an
``applied`` line can be cleaned.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from ial_resilience.errors import InputError

LEDGER_DIR = "ledger"


class LedgerEvent(StrEnum):
    INTENT = "intent"
    APPLIED = "applied"
    REVERTED = "reverted"
    CLEANED = "cleaned"


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    run_id: str
    event: LedgerEvent
    key: str
    t_wall: float
    data: Mapping[str, Any]

    def to_json(self) -> str:
        record = {"run_id": self.run_id, "event": self.event.value, "key": self.key}
        record["t_wall"] = round(self.t_wall, 6)  # type: ignore[assignment]
        return json.dumps({**record, **self.data}, sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> LedgerEntry:
        record = json.loads(line)
        core = {"run_id", "event", "key", "t_wall"}
        data = {k: v for k, v in record.items() if k not in core}
        return cls(
            str(record["run_id"]),
            LedgerEvent(record["event"]),
            str(record["key"]),
            float(record["t_wall"]),
            data,
        )


def ledger_dir(state_dir: Path) -> Path:
    return state_dir / LEDGER_DIR


class Ledger:
    """Append-only writer for one run's ledger; every line is fsync-ed before returning."""

    def __init__(self, state_dir: Path, run_id: str) -> None:
        directory = ledger_dir(state_dir)
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.path = directory / f"{run_id}.jsonl"
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as error:
            raise InputError(
                f"cannot write the fault ledger in {directory}: {error.strerror}",
                hint="choose a writable state directory with --state-dir",
            ) from error
        self.run_id = run_id

    def write(self, event: LedgerEvent, key: str, **data: Any) -> LedgerEntry:
        entry = LedgerEntry(self.run_id, event, key, time.time(), data)
        os.write(self._fd, (entry.to_json() + "\n").encode())
        os.fsync(self._fd)
        return entry

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def append(path: Path, entry: LedgerEntry) -> None:
    """Append one entry to an existing ledger file (used by cleanup)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, (entry.to_json() + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read(path: Path) -> list[LedgerEntry]:
    """Every entry of one ledger file; a torn last line (crash mid-write) is skipped."""
    entries: list[LedgerEntry] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            entries.append(LedgerEntry.from_json(line))
        except (ValueError, KeyError, TypeError):
            continue
    return entries


def ledgers(state_dir: Path) -> Iterator[Path]:
    directory = ledger_dir(state_dir)
    if directory.is_dir():
        yield from sorted(directory.glob("*.jsonl"))


@dataclass(frozen=True, slots=True)
class PendingFault:
    """A fault with an intent and no revert: possibly still active."""

    path: Path
    intent: LedgerEntry
    applied: LedgerEntry | None


def pending(path: Path) -> list[PendingFault]:
    entries = read(path)
    done = {e.key for e in entries if e.event in (LedgerEvent.REVERTED, LedgerEvent.CLEANED)}
    applied = {e.key: e for e in entries if e.event is LedgerEvent.APPLIED}
    return [
        PendingFault(path, e, applied.get(e.key))
        for e in entries
        if e.event is LedgerEvent.INTENT and e.key not in done
    ]

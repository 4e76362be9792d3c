"""A suite's past runs from the history store (INTERFACES §8: ``gameday`` records by suite)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ial_resilience.schedule.decide import PastRun


class HistoryRuns:
    """``past(key)`` → the suite's starts (a game day record each); read on every call, so a
    long-running scheduler sees runs recorded by other commands."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path

    def __call__(self, key: str) -> Sequence[PastRun]:
        from ial_resilience.history import HistoryStore, RecordKind

        with HistoryStore.open(self.path) as store:
            records = store.records(kind=RecordKind.GAMEDAY, key=key)
        return [PastRun(r.started_at, r.status) for r in records]

"""The one place the scheduler and ``ialr ci`` touch the history store (INTERFACES §8).

A suite's past runs are its ``gameday`` records (key: the slug of the suite's title, as
:func:`ial_resilience.history.record_gameday` writes it); ``ialr ci`` and ``ialr schedule
run`` record their game days and the gate reads the resilience score over every record.
Reading from an unusable store is a ``StoreError`` (exit 5); recording only warns (it never
changes a command's exit code).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ial_resilience import history
from ial_resilience.errors import IalrError
from ial_resilience.history.score import Score
from ial_resilience.history.score import resilience_score as score_of
from ial_resilience.schedule.decide import PastRun


class HistoryRuns:
    """``runs(key)`` → the suite's starts (a game day record each); read on every call, so a
    long-running scheduler sees runs recorded by other commands."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path

    def __call__(self, key: str) -> Sequence[PastRun]:
        with history.HistoryStore.open(self.path) as store:
            records = store.records(kind=history.RecordKind.GAMEDAY, key=key)
        return [PastRun(r.started_at, r.status) for r in records]


def record_gameday(
    report: Mapping[str, Any], report_path: Path, store: Path | None = None
) -> str | None:
    """Record a game day and its runs (ids already there are skipped); a warning or None."""
    try:
        records = history.record_gameday(report, report_path)
    except IalrError as error:
        return f"the run was not recorded in the history: {error.message}"
    history.save(records, store)  # prints its own warning when the store is unusable
    return None


def resilience_score(path: Path | None = None) -> Score:
    """The history's resilience score now."""
    with history.HistoryStore.open(path) as store:
        records = store.records()
    return score_of(records, time.time())

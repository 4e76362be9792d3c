"""The one place the scheduler and ``ialr ci`` touch the history store (INTERFACES §8).

A suite's past runs are its ``gameday`` records (key: the suite's title slug); ``ialr ci``
records its game day and reads the resilience score over every record. A build without the
history package, or a store that cannot be opened, is a ``StoreError`` (exit 5) for reading,
and only a warning for recording (recording never changes a command's exit code).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ial_resilience.errors import IalrError, StoreError
from ial_resilience.schedule.decide import PastRun

NO_HISTORY = "this build has no history store (ial_resilience.history)"


def _history() -> Any:
    try:
        import ial_resilience.history as history
    except ImportError as error:
        raise StoreError(NO_HISTORY, hint="install a build with `ialr history`") from error
    return history


class HistoryRuns:
    """``runs(key)`` → the suite's starts (a game day record each); read on every call, so a
    long-running scheduler sees runs recorded by other commands."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path

    def __call__(self, key: str) -> Sequence[PastRun]:
        history = _history()
        with history.HistoryStore.open(self.path) as store:
            records = store.records(kind=history.RecordKind.GAMEDAY, key=key)
        return [PastRun(float(r.started_at), str(r.status)) for r in records]


def record_gameday(report: Mapping[str, Any], path: Path) -> str | None:
    """Record a game day (idempotent: the history skips an id it holds); a warning or None."""
    try:
        _history().record_gameday(dict(report), path)
    except IalrError as error:
        return f"the run was not recorded in the history: {error.message}"
    return None


def resilience_score(path: Path | None = None) -> Any:
    """The history's resilience score now (``Score(value, parts, formula)``)."""
    history = _history()
    from ial_resilience.history.score import resilience_score as score

    with history.HistoryStore.open(path) as store:
        records = store.records()
    return score(records, time.time())

"""Where the dashboard's data comes from: the history store, read once per change.

A :class:`Backend` is the four functions of INTERFACES §8 (read every record, ``analyze``,
``resilience_score``, ``kpis``); :func:`history_backend` is the real one. :class:`Snapshot`
holds every view model computed from one state of the store; :class:`DashboardData` keeps
the latest and recomputes it only when the store's files changed (their size or mtime), so a
page costs a lookup, not an analysis of 10,000 runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from ial_resilience import history
from ial_resilience.dashboard import model


class Backend(Protocol):
    def path(self) -> Path: ...
    def records(self) -> Sequence[model.RecordLike]: ...
    def analysis(self, records: Sequence[Any], now: float) -> Mapping[str, Any]: ...
    def score(self, records: Sequence[Any], now: float) -> Mapping[str, Any]: ...
    def kpis(self, records: Sequence[Any], now: float) -> Sequence[Mapping[str, Any]]: ...


class HistoryBackend:
    """The history store of INTERFACES §8 (``ial_resilience.history``)."""

    def __init__(self, path: Path | None) -> None:
        self._path = Path(path) if path is not None else history.default_history_path()

    def path(self) -> Path:
        return self._path

    def records(self) -> Sequence[model.RecordLike]:
        with history.HistoryStore.open(path=self._path) as store:
            return list(store.records())

    def analysis(self, records: Sequence[Any], now: float) -> Mapping[str, Any]:
        from ial_resilience.history.analyze import analyze

        return dict(analyze(list(records), now).to_json())

    def score(self, records: Sequence[Any], now: float) -> Mapping[str, Any]:
        from ial_resilience.history.score import resilience_score as score

        return dict(score(list(records), now).to_json())

    def kpis(self, records: Sequence[Any], now: float) -> Sequence[Mapping[str, Any]]:
        from ial_resilience.history.kpis import kpis

        return [dict(k.to_json()) for k in kpis(list(records), now)]


def history_backend(path: Path | None) -> Backend:
    return HistoryBackend(path)


@dataclass(frozen=True)
class Snapshot:
    """Every view model of one state of the store, and how long computing them took."""

    records: Sequence[model.RecordLike]
    by_id: Mapping[str, model.RecordLike]
    children: Mapping[str, list[model.RecordLike]]
    score: dict[str, Any]
    insights: dict[str, Any]
    computed_at: float
    compute_s: float
    stale: bool = False  # a newer state of the store is being read


def build_snapshot(backend: Backend, now: float) -> Snapshot:
    began = time.perf_counter()
    records = list(backend.records())
    children: dict[str, list[model.RecordLike]] = {}
    for record in records:
        if record.parent_id:
            children.setdefault(record.parent_id, []).append(record)
    trend = model.score_trend(records, backend.score)
    score = model.score_view(backend.score(records, now), trend)
    insights = model.insights_view(backend.analysis(records, now), backend.kpis(records, now))
    return Snapshot(
        records=records,
        by_id={r.id: r for r in records},
        children=children,
        score=score,
        insights=insights,
        computed_at=now,
        compute_s=time.perf_counter() - began,
    )


def _version(path: Path) -> tuple[tuple[int, int], ...]:
    """Size and mtime of the database and its WAL: any write changes one of them."""
    found = []
    for candidate in (path, path.with_name(path.name + "-wal")):
        try:
            stat = candidate.stat()
        except OSError:
            found.append((-1, -1))
        else:
            found.append((stat.st_size, stat.st_mtime_ns))
    return tuple(found)


class DashboardData:
    """The latest :class:`Snapshot`. The first is built on the first call; after that, a
    change of the store's files starts one rebuild in a background thread and pages are served
    from the previous snapshot meanwhile (``Snapshot.stale`` says so), so no request waits
    for an analysis of the whole history. A rebuild that failed (``StoreError``: corrupt or
    locked) is raised by every call until the files change again."""

    def __init__(
        self,
        backend: Backend,
        clock: Callable[[], float] = time.time,
        *,
        background: bool = True,
    ) -> None:
        self._backend = backend
        self._clock = clock
        self._background = background
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._version: tuple[tuple[int, int], ...] | None = None
        self._building: threading.Thread | None = None
        self._failed: tuple[tuple[tuple[int, int], ...], BaseException] | None = None

    @property
    def path(self) -> Path:
        return self._backend.path()

    def snapshot(self) -> Snapshot:
        """Raises what the backend raises (``StoreError`` for a corrupt or locked file)."""
        with self._lock:
            version = _version(self._backend.path())
            if self._failed is not None:
                if self._failed[0] == version:
                    raise self._failed[1]
                self._failed = None  # the file changed since: try again
            if self._snapshot is None or not self._background:
                if self._snapshot is None or version != self._version:
                    self._snapshot = build_snapshot(self._backend, self._clock())
                    self._version = version
                return self._snapshot
            if version != self._version and self._building is None:
                self._building = threading.Thread(
                    target=self._rebuild, args=(version,), name="dashboard-rebuild", daemon=True
                )
                self._building.start()
            current = self._snapshot
            return replace(current, stale=True) if self._building is not None else current

    def wait_idle(self, timeout: float) -> bool:
        """Wait for a background rebuild to finish (tests, benchmarks); False on timeout."""
        with self._lock:
            building = self._building
        if building is not None:
            building.join(timeout)
            return not building.is_alive()
        return True

    def _rebuild(self, version: tuple[tuple[int, int], ...]) -> None:
        try:
            snapshot = build_snapshot(self._backend, self._clock())
        except Exception as exc:  # handed to the requests, which report it
            with self._lock:
                self._failed, self._building = (version, exc), None
            return
        with self._lock:
            self._snapshot, self._version, self._building = snapshot, version, None

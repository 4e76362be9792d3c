"""The local telemetry store: one SQLite file in WAL mode shared by many processes.

Each thread of each process gets its own connection (``busy_timeout`` set, WAL journal), so
lab replicas, the load generator and the evaluator write at once; every write is one short
``BEGIN IMMEDIATE`` transaction (batched for points). Nothing is ever reset silently: a
missing, locked or corrupt file raises :class:`~ial_resilience.errors.StoreError` saying
what to do. ``sqlite3`` errors are translated in :func:`_translated`, the one boundary.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ial_resilience.errors import StoreError
from ial_resilience.observability._schema import SCHEMA, SCHEMA_VERSION

DEFAULT_PATH = Path("telemetry.db")
_HINT_MISSING = (
    "create it with `ialr alerts eval --store PATH` or pass the path of an existing store"
)


@dataclass(frozen=True, slots=True)
class Point:
    """One metric point: series name and labels, wall time (unix s), value."""

    name: str
    value: float
    labels: Mapping[str, str]
    ts: float


@dataclass(frozen=True, slots=True)
class SpanRecord:
    trace_id: str
    span_id: str
    parent_id: str | None
    service: str
    name: str
    kind: str
    start: float
    end: float
    status: str
    attributes: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class SeriesPoints:
    """The points of one series in a time range, oldest first."""

    labels: Mapping[str, str]
    ts: Sequence[float]
    values: Sequence[float]


@dataclass(frozen=True, slots=True)
class Edge:
    """Calls from one service to another (or to a database) seen in spans."""

    source: str
    target: str
    calls: int
    errors: int


def labels_key(labels: Mapping[str, str]) -> str:
    """Canonical text of a label set (sorted keys, compact JSON)."""
    return json.dumps(dict(sorted(labels.items())), separators=(",", ":"))


def _classify(error: sqlite3.Error, path: Path, busy_timeout: float) -> StoreError:
    text = str(error).lower()
    if "locked" in text or "busy" in text:
        return StoreError(
            f"the telemetry store {path} stayed locked for more than {busy_timeout:g}s",
            hint="another process holds a long write; retry, or stop the process writing it",
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return StoreError(
            f"the telemetry store {path} is corrupt ({error})",
            hint="move the file away (it is kept as is, never reset) and start a new store; "
            "`sqlite3 FILE .recover` may save its data",
        )
    if "readonly" in text or "unable to open" in text or "disk i/o" in text:
        return StoreError(
            f"cannot write the telemetry store {path} ({error})",
            hint="check that the file and its directory are writable and the disk is not full",
        )
    return StoreError(f"the telemetry store {path} failed: {error}", hint="see the message")


class TelemetryStore:
    """Metric points, spans, events and alert state in one SQLite file."""

    def __init__(
        self, path: str | Path = DEFAULT_PATH, *, create: bool = True, busy_timeout: float = 10.0
    ) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._series_ids: dict[tuple[str, str], int] = {}
        self._series_lock = threading.Lock()
        if not self.path.exists():
            if not create:
                raise StoreError(f"no telemetry store at {self.path}", hint=_HINT_MISSING)
            self._make_parent()
        with self._translated():
            self._prepare(self.connection())

    def _make_parent(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(
                f"cannot create the directory of the telemetry store {self.path}: {error.strerror}",
                hint="choose a writable path with --store",
            ) from error

    # -- connections ------------------------------------------------------------------------
    def connection(self) -> sqlite3.Connection:
        """This thread's connection (a new one after a fork)."""
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is not None and self._local.pid == os.getpid():
            return connection
        with self._translated():
            connection = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=True
            )
            connection.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
        self._local.connection = connection
        self._local.pid = os.getpid()
        return connection

    def _prepare(self, connection: sqlite3.Connection) -> None:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            raise StoreError(
                f"the telemetry store {self.path} has schema version {version}; "
                f"this ialr reads version {SCHEMA_VERSION}",
                hint="use the ialr version that wrote it, or start a new store",
            )
        if version == 0:
            connection.executescript(
                f"BEGIN IMMEDIATE;{SCHEMA}PRAGMA user_version = {SCHEMA_VERSION};COMMIT;"
            )

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as error:
            raise _classify(error, self.path, self.busy_timeout) from error

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (rolled back on any error); errors translated."""
        connection = self.connection()
        with self._translated():
            in_tx = connection.in_transaction
            if not in_tx:
                connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                if not in_tx and connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
            if not in_tx and connection.in_transaction:
                connection.execute("COMMIT")

    def query(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._translated():
            return self.connection().execute(sql, parameters).fetchall()

    def check(self) -> None:
        """``PRAGMA quick_check``; ``StoreError`` when the file is damaged."""
        rows = self.query("PRAGMA quick_check(1)")
        if rows and rows[0][0] != "ok":
            raise _classify(sqlite3.DatabaseError(f"malformed: {rows[0][0]}"), self.path, 0)

    # -- metric points ----------------------------------------------------------------------
    def _series_id(self, connection: sqlite3.Connection, name: str, labels: str) -> int:
        key = (name, labels)
        found = self._series_ids.get(key)
        if found is not None:
            return found
        connection.execute(
            "INSERT OR IGNORE INTO series (name, labels) VALUES (?, ?)", (name, labels)
        )
        row = connection.execute(
            "SELECT id FROM series WHERE name = ? AND labels = ?", (name, labels)
        ).fetchone()
        with self._series_lock:
            self._series_ids[key] = int(row[0])
        return int(row[0])

    def write_points(self, points: Iterable[Point]) -> int:
        """Insert every point in one transaction; returns how many."""
        rows: list[tuple[int, float, float]] = []
        keys: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
        with self.transaction() as tx:
            for point in points:
                fast = (point.name, tuple(point.labels.items()))
                series = keys.get(fast)
                if series is None:
                    series = self._series_id(tx, point.name, labels_key(point.labels))
                    keys[fast] = series
                rows.append((series, point.ts, float(point.value)))
            tx.executemany("INSERT INTO points (series_id, ts, value) VALUES (?, ?, ?)", rows)
        return len(rows)

    def write_point(
        self,
        name: str,
        value: float,
        labels: Mapping[str, str] | None = None,
        ts: float | None = None,
    ) -> None:
        self.write_points([Point(name, value, labels or {}, time.time() if ts is None else ts)])

    def metric_names(self) -> set[str]:
        return {str(row[0]) for row in self.query("SELECT DISTINCT name FROM series")}

    def series(self, name: str) -> list[tuple[int, dict[str, str]]]:
        rows = self.query("SELECT id, labels FROM series WHERE name = ?", (name,))
        return [(int(row[0]), json.loads(row[1])) for row in rows]

    def points(
        self, name: str, where: Mapping[str, str], start: float, end: float
    ) -> list[SeriesPoints]:
        """Points with ``start < ts <= end`` of every series of ``name`` matching ``where``."""
        chosen = {
            sid: labels
            for sid, labels in self.series(name)
            if all(labels.get(k) == v for k, v in where.items())
        }
        if not chosen:
            return []
        marks = ",".join("?" * len(chosen))
        rows = self.query(
            f"SELECT series_id, ts, value FROM points WHERE series_id IN ({marks}) "
            "AND ts > ? AND ts <= ? ORDER BY series_id, ts",
            (*chosen, start, end),
        )
        grouped: dict[int, tuple[list[float], list[float]]] = {}
        for sid, ts, value in rows:
            bucket = grouped.setdefault(sid, ([], []))
            bucket[0].append(ts)
            bucket[1].append(value)
        return [SeriesPoints(chosen[sid], ts, vs) for sid, (ts, vs) in grouped.items()]

    def last_point_at(self, name: str, where: Mapping[str, str]) -> dict[str, float]:
        """Time of the newest point per series (labels key → unix s)."""
        result: dict[str, float] = {}
        for sid, labels in self.series(name):
            if all(labels.get(k) == v for k, v in where.items()):
                row = self.query("SELECT MAX(ts) FROM points WHERE series_id = ?", (sid,))
                if row and row[0][0] is not None:
                    result[labels_key(labels)] = float(row[0][0])
        return result

    def count_points(self) -> int:
        return int(self.query("SELECT COUNT(*) FROM points")[0][0])

    # -- spans and events -------------------------------------------------------------------
    def write_spans(self, spans: Iterable[SpanRecord]) -> int:
        rows = [
            (
                s.span_id,
                s.trace_id,
                s.parent_id,
                s.service,
                s.name,
                s.kind,
                s.start,
                s.end,
                s.status,
                json.dumps(dict(s.attributes), default=str),
            )
            for s in spans
        ]
        with self.transaction() as tx:
            tx.executemany("INSERT OR REPLACE INTO spans VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
        return len(rows)

    def spans(self, trace_id: str) -> list[SpanRecord]:
        rows = self.query("SELECT * FROM spans WHERE trace_id = ? ORDER BY start", (trace_id,))
        return [
            SpanRecord(
                trace_id=r[1],
                span_id=r[0],
                parent_id=r[2],
                service=r[3],
                name=r[4],
                kind=r[5],
                start=r[6],
                end=r[7],
                status=r[8],
                attributes=json.loads(r[9]),
            )
            for r in rows
        ]

    def write_event(
        self, kind: str, attributes: Mapping[str, Any], *, source: str = "", ts: float | None = None
    ) -> None:
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO events (ts, kind, source, attributes) VALUES (?, ?, ?, ?)",
                (time.time() if ts is None else ts, kind, source, json.dumps(attributes)),
            )

    def events(self, since: float = 0.0, kind: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT ts, kind, source, attributes FROM events WHERE ts >= ?"
        args: list[Any] = [since]
        if kind is not None:
            sql, args = sql + " AND kind = ?", [*args, kind]
        return [
            {"ts": ts, "kind": k, "source": src, "attributes": json.loads(attrs)}
            for ts, k, src, attrs in self.query(sql + " ORDER BY ts", args)
        ]

    def service_map(self, since: float = 0.0) -> list[Edge]:
        """Edges between services (parent span in one, child in another) and to databases."""
        cross = self.query(
            "SELECT p.service, c.service, COUNT(*), SUM(c.status = 'error') FROM spans c "
            "JOIN spans p ON p.trace_id = c.trace_id AND p.span_id = c.parent_id "
            "WHERE c.start >= ? AND p.service != c.service GROUP BY p.service, c.service",
            (since,),
        )
        databases = self.query(
            "SELECT service, json_extract(attributes, '$.\"db.system\"'), COUNT(*), "
            "SUM(status = 'error') FROM spans WHERE start >= ? AND kind = 'client' "
            "AND json_extract(attributes, '$.\"db.system\"') IS NOT NULL GROUP BY 1, 2",
            (since,),
        )
        edges = [Edge(a, b, int(n), int(e or 0)) for a, b, n, e in [*cross, *databases]]
        return sorted(edges, key=lambda edge: (edge.source, edge.target))

    # -- retention --------------------------------------------------------------------------
    def retain(self, older_than: float, *, now: float | None = None) -> dict[str, int]:
        """Delete points, spans, events and resolved alerts older than ``older_than`` seconds."""
        cutoff = (time.time() if now is None else now) - older_than
        statements = {
            "points": "DELETE FROM points WHERE ts < ?",
            "spans": "DELETE FROM spans WHERE end < ?",
            "events": "DELETE FROM events WHERE ts < ?",
            "alerts": "DELETE FROM alerts WHERE resolved_at IS NOT NULL AND resolved_at < ?",
            "outbox": "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?",
        }
        deleted: dict[str, int] = {}
        with self.transaction() as tx:
            for table, sql in statements.items():
                deleted[table] = tx.execute(sql, (cutoff,)).rowcount
        return deleted


def open_store(path: str | Path, *, create: bool = False) -> TelemetryStore:
    """An existing store (``create=False``: ``StoreError`` if the file is missing)."""
    return TelemetryStore(path, create=create)

"""The history store: one SQLite file of records (docs/INTERFACES.md §8).

``$IALR_HISTORY`` names the file, else ``<state dir>/history/history.db``. WAL mode, a 5 s
busy timeout. A file that is not a history (corrupt, another database) or stays locked raises
:class:`~ial_resilience.errors.StoreError` saying what to do; it is never reset.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ial_resilience.agent.state import resolve_state_dir
from ial_resilience.errors import StoreError
from ial_resilience.history.model import Record, RecordKind

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 5.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL,
    environment TEXT NOT NULL,
    provider TEXT NOT NULL,
    parent_id TEXT,
    source TEXT,
    tags TEXT NOT NULL,
    figures TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_kind_time ON records (kind, started_at);
CREATE INDEX IF NOT EXISTS records_key_time ON records (key, started_at);
"""
_COLUMNS = (
    "id, kind, key, title, status, started_at, ended_at, environment, provider, parent_id, "
    "source, tags, figures, data"
)


def default_history_path() -> Path:
    """``$IALR_HISTORY``, else ``<state dir>/history/history.db``."""
    named = os.environ.get("IALR_HISTORY")
    return Path(named) if named else resolve_state_dir() / "history" / "history.db"


def _translate(path: Path, error: sqlite3.Error, timeout: float) -> StoreError:
    text = str(error)
    if "locked" in text or "busy" in text:
        return StoreError(
            f"the history file {path} stayed locked for {timeout:g} s ({text})",
            hint="another ialr command is writing it; try again when it has finished",
        )
    return StoreError(
        f"{path} is not a usable history file ({text})",
        hint="move it aside (it was not changed) and the next command starts a new history; "
        "restore it from a backup to keep its records",
    )


class HistoryStore:
    """Open with :meth:`open` (a context manager); one connection, used by one thread."""

    def __init__(self, path: Path, connection: sqlite3.Connection, timeout: float) -> None:
        self.path = path
        self._db = connection
        self._timeout = timeout

    @classmethod
    @contextmanager
    def open(
        cls, path: Path | str | None = None, *, busy_timeout: float = BUSY_TIMEOUT_S
    ) -> Iterator[HistoryStore]:
        file = Path(path) if path is not None else default_history_path()
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"cannot create {file.parent} for the history: {error}") from error
        try:
            db = sqlite3.connect(file, timeout=busy_timeout, isolation_level=None)
        except sqlite3.Error as error:
            raise _translate(file, error, busy_timeout) from error
        try:
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(_SCHEMA)
                db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
                )
            except sqlite3.Error as error:
                raise _translate(file, error, busy_timeout) from error
            yield cls(file, db, busy_timeout)
        finally:
            db.close()

    def add(self, record: Record) -> bool:
        """Store ``record``; False when a record with its id is already there (unchanged)."""
        return self.add_many([record]) == 1

    def add_many(self, records: Iterable[Record]) -> int:
        """Store every record in one transaction; returns how many were new."""
        rows = [_row(r) for r in records]
        try:
            with self._transaction():
                before = self._db.total_changes
                self._db.executemany(
                    f"INSERT OR IGNORE INTO records ({_COLUMNS}) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                return self._db.total_changes - before
        except sqlite3.Error as error:
            raise _translate(self.path, error, self._timeout) from error

    def get(self, record_id: str) -> Record | None:
        found = self._select("WHERE id = ?", (record_id,))
        return found[0] if found else None

    def records(
        self,
        kind: RecordKind | str | None = None,
        key: str | None = None,
        since: float | None = None,
        until: float | None = None,
        environment: str | None = None,
        parent_id: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Record]:
        clauses: list[str] = []
        params: list[str | float] = []
        for column, value in (
            ("kind", kind),
            ("key", key),
            ("environment", environment),
            ("parent_id", parent_id),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(str(value))
        if since is not None:
            clauses.append("started_at >= ?")
            params.append(since)
        if until is not None:
            clauses.append("started_at <= ?")
            params.append(until)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        order = "DESC" if newest_first else "ASC"
        tail = f" ORDER BY started_at {order}, id {order}"
        if limit is not None:
            tail += f" LIMIT {int(limit)}"
        return self._select(where + tail, tuple(params))

    def count(self) -> int:
        try:
            return int(self._db.execute("SELECT count(*) FROM records").fetchone()[0])
        except sqlite3.Error as error:
            raise _translate(self.path, error, self._timeout) from error

    def _select(self, tail: str, params: Sequence[Any]) -> list[Record]:
        try:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM records {tail}", params).fetchall()
        except sqlite3.Error as error:
            raise _translate(self.path, error, self._timeout) from error
        return [_record(row) for row in rows]

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


def _row(r: Record) -> tuple[Any, ...]:
    return (
        r.id,
        r.kind.value,
        r.key,
        r.title,
        r.status,
        r.started_at,
        r.ended_at,
        r.environment,
        r.provider,
        r.parent_id,
        r.source,
        json.dumps(list(r.tags)),
        json.dumps(r.figures),
        json.dumps(r.data, default=str),
    )


def _record(row: tuple[Any, ...]) -> Record:
    return Record(
        id=row[0],
        kind=RecordKind(row[1]),
        key=row[2],
        title=row[3],
        status=row[4],
        started_at=row[5],
        ended_at=row[6],
        environment=row[7],
        provider=row[8],
        parent_id=row[9],
        source=row[10],
        tags=tuple(json.loads(row[11])),
        figures=json.loads(row[12]),
        data=json.loads(row[13]),
    )

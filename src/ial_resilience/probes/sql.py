"""``sql`` probe: runs a query on PostgreSQL (psycopg 3); the value is the first column of the
first row when it is a number. The connection is kept between samples and opened again after a
failure, as a service's pool would."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any

import psycopg

from ial_resilience.probes.base import Outcome, Sample, describe, measure


@dataclass(frozen=True, slots=True)
class SqlConfig:
    dsn: str
    query: str = "SELECT 1"
    timeout: float = 2.0
    name: str = ""


def _as_number(cell: Any) -> float | None:
    if isinstance(cell, bool):
        return float(cell)
    try:
        number = float(cell)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class SqlProbe:
    def __init__(self, config: SqlConfig) -> None:
        self.config = config
        self._conn: psycopg.Connection[Any] | None = None

    @property
    def name(self) -> str:
        return self.config.name or f"sql {self.config.query}"

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            timeout_ms = max(1, int(self.config.timeout * 1000))
            self._conn = psycopg.connect(
                self.config.dsn,
                autocommit=True,
                connect_timeout=max(1, math.ceil(self.config.timeout)),
                options=f"-c statement_timeout={timeout_ms}",
            )
        return self._conn

    def _query(self) -> Outcome:
        try:
            cursor = self._connection().execute(self.config.query)
            row = cursor.fetchone() if cursor.description else None
        except psycopg.Error as exc:
            self.close()
            return None, False, describe(exc)
        return (_as_number(row[0]) if row else None), True, None

    def sample(self) -> Sample:
        return measure(self._query)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

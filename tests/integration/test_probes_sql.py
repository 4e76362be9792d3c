# ruff: noqa: F811  (pytest fixtures imported by name are redefined as parameters)
"""The sql probe against a real PostgreSQL."""

from __future__ import annotations

import pytest

from ial_resilience.probes.sql import SqlConfig, SqlProbe
from tests.pg_fixtures import pg_database, postgres  # noqa: F401

pytestmark = pytest.mark.postgres


def test_sql_probe_value_errors_and_reconnect(pg_database: str) -> None:
    probe = SqlProbe(SqlConfig(pg_database, "SELECT 41 + 1"))
    sample = probe.sample()
    assert sample.ok and sample.value == 42
    bad = SqlProbe(SqlConfig(pg_database, "SELECT * FROM no_such_table"))
    failed = bad.sample()
    assert not failed.ok and "UndefinedTable" in (failed.error or "")
    bad.close()
    text = SqlProbe(SqlConfig(pg_database, "SELECT 'abc'"))
    assert text.sample().ok and text.sample().value is None
    text.close()
    slow = SqlProbe(SqlConfig(pg_database, "SELECT pg_sleep(3)", timeout=0.3))
    timed_out = slow.sample()
    assert not timed_out.ok and "cancel" in (timed_out.error or "").lower()
    assert slow.sample().ok is False  # reconnects and fails the same way, never raises
    slow.close()
    probe.close()
    assert probe.sample().ok, "a closed probe reconnects on the next sample"
    probe.close()

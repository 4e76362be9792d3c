"""The embedded PostgreSQL helper really starts, serves, and stops a server."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from ial_resilience.postgres import PostgresInstance, pg_bin
from tests.pg_fixtures import pg_database, postgres  # noqa: F401

pytestmark = pytest.mark.postgres


def test_server_answers_queries(pg_database: str) -> None:  # noqa: F811
    with psycopg.connect(pg_database) as conn:
        conn.execute("CREATE TABLE t (id int)")
        conn.execute("INSERT INTO t VALUES (1), (2)")
        row = conn.execute("SELECT count(*) FROM t").fetchone()
    assert row == (2,)


def test_tools_are_shipped() -> None:
    for tool in ("pg_basebackup", "pg_verifybackup", "pg_dump", "pg_receivewal", "pgbench"):
        assert pg_bin(tool).exists(), tool


def test_stop_and_restart_keeps_data(tmp_path: Path) -> None:
    pg = PostgresInstance(tmp_path / "data")
    pg.init().start()
    try:
        with psycopg.connect(pg.dsn(), autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (v text)")
            conn.execute("INSERT INTO kept VALUES ('x')")
        pg.stop()
        assert not pg.is_running()
        pg.start()
        with psycopg.connect(pg.dsn()) as conn:
            assert conn.execute("SELECT v FROM kept").fetchone() == ("x",)
    finally:
        pg.remove()
    assert not (tmp_path / "data").exists()

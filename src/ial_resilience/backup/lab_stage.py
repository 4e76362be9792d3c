"""The lab side of a recovery drill: the lab's writer, the users' traffic, what users saw.

- :class:`LabWriter` is the PostgreSQL server behind the ``api->db`` link. A drill replaces it
  with a restored server listening on the *same port* and registered with the lab's agent
  under the *same name* (``db-primary``, adopted by pid), so ``ialr lab status`` checks it and
  ``ialr lab down`` stops it like the original; ``api->db`` is then repointed to it and its
  open connections reset, so the API replicas reconnect through the same address.
- :func:`first_write_after` reads the load generator's telemetry store: the first ``POST
  /orders`` sent after the disaster that succeeded, i.e. the moment users could write again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import psycopg

from ial_resilience.agent.client import AgentClient
from ial_resilience.errors import BackupError, IalrError
from ial_resilience.lab.loadgen_record import REQUEST_SERIES
from ial_resilience.observability.store import open_store
from ial_resilience.postgres import PostgresInstance

DB_LINK = "api->db"
WRITER = "db-primary"
REPLICA = "db-replica"
REPLICA_STREAMING_S = 60.0
PORT_FREE_S = 15.0
POLL_S = 0.05


@dataclass(frozen=True)
class LabWriter:
    """The lab's current writer: its agent name, data directory and port."""

    name: str
    data_dir: Path
    port: int

    @property
    def instance(self) -> PostgresInstance:
        return PostgresInstance(self.data_dir, port=self.port)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def dsn(self) -> str:
        return self.instance.dsn()

    def pid(self) -> int | None:
        return self.instance.pid


def _data_dir(process: dict[str, Any]) -> Path | None:
    """A lab server's data directory: ``postgres -D DIR`` (or pgnode's ``--data DIR``)."""
    argv = [str(a) for a in process.get("argv") or []]
    with contextlib.suppress(psutil.Error, ValueError):
        argv = psutil.Process(int(process["pid"])).cmdline() or argv
    flag = next((f for f in ("-D", "--data") if f in argv[:-1]), None)
    return None if flag is None else Path(argv[argv.index(flag) + 1])


def current_writer(agent: AgentClient, writer_dsn: str) -> LabWriter:
    """The writer the agent knows as ``db-primary``: data directory from its command line
    (``postgres -D DIR``, or pgnode's ``--data DIR``), port from the lab's writer DSN."""
    process = next((p for p in agent.processes() if p["name"] == WRITER), None)
    if process is None:
        raise BackupError(
            f"the lab's agent has no {WRITER!r} process",
            hint="recovery drills need the bundled lab (`ialr lab up` without a system file)",
        )
    data_dir = _data_dir(process)
    if data_dir is None:
        raise BackupError(f"cannot tell the data directory of {WRITER!r}: {process}")
    port = int(writer_dsn.rsplit(":", 1)[1].split("/", 1)[0])
    return LabWriter(WRITER, data_dir, port)


def kill_writer(writer: LabWriter) -> None:
    """SIGKILL the postmaster (no shutdown checkpoint, no goodbye to clients)."""
    pid = writer.pid()
    if pid is None:
        raise BackupError(f"the lab's writer on {writer.address} is not running")
    os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(psutil.Error):
        psutil.Process(pid).wait(timeout=10)


def wait_port_free(port: int, timeout: float = PORT_FREE_S) -> None:
    """Until nothing accepts connections on 127.0.0.1:``port`` (the old writer is gone)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                pass
        except OSError:
            return
        time.sleep(POLL_S)
    raise BackupError(f"port {port} is still in use {timeout:g}s after the writer stopped")


def take_over(agent: AgentClient, writer: LabWriter, restored: PostgresInstance) -> LabWriter:
    """Register ``restored`` as the lab's writer and point ``api->db`` at it."""
    pid = restored.pid
    if pid is None:
        raise BackupError(f"the restored server in {restored.data_dir} is not running")
    with contextlib.suppress(IalrError):  # the old writer's registration (dead by now)
        agent.remove_process(writer.name)
    agent.add_process(writer.name, pid=pid)
    agent.update_link(DB_LINK, restored.address)
    agent.reset_link(DB_LINK)
    return LabWriter(writer.name, restored.data_dir, restored.port)


def first_write_after(store_path: Path, moment: float) -> float | None:
    """Unix time the first successful ``POST /orders`` sent after ``moment`` completed."""
    if not store_path.exists():
        return None  # nothing recorded yet
    store = open_store(store_path)
    try:
        where = {"method": "POST", "route": "/orders", "outcome": "ok"}
        series = store.points(REQUEST_SERIES, where, moment, float("inf"))
    finally:
        store.close()
    done = [ts + ms / 1000.0 for s in series for ts, ms in zip(s.ts, s.values, strict=True)]
    return min(done) if done else None


def wait_first_write_after(store_path: Path, moment: float, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while True:
        found = first_write_after(store_path, moment)
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise BackupError(
                f"no write of the load generator succeeded within {timeout:g}s of the restore",
                hint="see `ialr lab logs api-1` and the restored server's log",
            )
        time.sleep(0.1)


def reseed_replica(agent: AgentClient, writer: LabWriter) -> bool:
    """Rebuild the streaming replica from the restored writer (it still follows the old
    timeline): stop it and let the agent start it again, which takes a fresh
    ``pg_basebackup`` through ``db-replica->db-primary``; True once it streams again."""
    process = next((p for p in agent.processes() if p["name"] == REPLICA), None)
    data_dir = None if process is None else _data_dir(process)
    if process is None or data_dir is None:
        return False
    if process["alive"]:
        PostgresInstance(data_dir).stop(mode="fast")
    agent.respawn_process(REPLICA)
    deadline = time.monotonic() + REPLICA_STREAMING_S
    while time.monotonic() < deadline:  # the re-seeding pg_basebackup streams too: not it
        with contextlib.suppress(psycopg.Error):
            with psycopg.connect(writer.dsn(), autocommit=True, connect_timeout=2) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' "
                    "AND application_name NOT IN ('pg_receivewal', 'pg_basebackup')"
                ).fetchone()
            if row and row[0]:
                return True
        time.sleep(0.1)
    return False

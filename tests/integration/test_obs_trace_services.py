"""One trace crosses processes: client → service A (Starlette) → httpx → service B
(Starlette) → psycopg → PostgreSQL; every span lands in the store under one trace id."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ial_resilience.observability.store import TelemetryStore
from tests.pg_fixtures import pg_database, postgres  # noqa: F401

SERVICE = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import Route
from ial_resilience.observability import setup_tracing
from ial_resilience.observability.instrument import (
    TracingMiddleware, traced_client, traced_connect)

name, port, store, dsn, downstream = sys.argv[1:6]
setup_tracing(name, exporter="store", store=store)

def call(request):
    with traced_client(timeout=5) as client:
        answer = client.get(downstream + "/db")
    return JSONResponse({"downstream": answer.json()}, status_code=answer.status_code)

def db(request):
    with traced_connect(dsn) as conn:
        (value,) = conn.execute("SELECT 41 + 1").fetchone()
    return JSONResponse({"value": value})

def health(request):
    return JSONResponse({"ok": True})

app = Starlette(routes=[Route("/call", call), Route("/db", db), Route("/health", health)],
                middleware=[Middleware(TracingMiddleware)])
uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the service exited"
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} did not become healthy")


@pytest.fixture
def services(tmp_path: Path, pg_database: str) -> Iterator[tuple[str, Path]]:  # noqa: F811
    store = tmp_path / "telemetry.db"
    TelemetryStore(store).close()
    port_a, port_b = free_port(), free_port()
    env = {**os.environ, "OTEL_BSP_SCHEDULE_DELAY": "100"}
    processes = []
    try:
        for name, port, downstream in (
            ("inventory", port_b, "-"),
            ("orders", port_a, f"http://127.0.0.1:{port_b}"),
        ):
            argv = [
                sys.executable,
                "-c",
                SERVICE,
                name,
                str(port),
                str(store),
                pg_database,
                downstream,
            ]
            process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL)
            processes.append(process)
            wait_healthy(f"http://127.0.0.1:{port}/health", process)
        yield f"http://127.0.0.1:{port_a}", store
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(15)


@pytest.mark.postgres
def test_one_trace_from_the_first_service_to_the_database(services: tuple[str, Path]) -> None:
    url, path = services
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    answer = httpx.get(f"{url}/call", headers={"traceparent": traceparent}, timeout=10)
    assert answer.json() == {"downstream": {"value": 42}}
    store = TelemetryStore(path, create=False)
    deadline = time.monotonic() + 20
    spans = store.spans(trace_id)
    while len(spans) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
        spans = store.spans(trace_id)
    shape = {(s.service, s.kind, s.name) for s in spans}
    assert shape == {
        ("orders", "server", "GET /call"),
        ("orders", "client", "GET"),
        ("inventory", "server", "GET /db"),
        ("inventory", "client", "SELECT"),
    }
    by_kind = {(s.service, s.kind): s for s in spans}
    assert by_kind[("inventory", "server")].parent_id == by_kind[("orders", "client")].span_id
    assert by_kind[("inventory", "client")].attributes["db.system"] == "postgresql"
    edges = {(e.source, e.target) for e in store.service_map()}
    assert edges == {("orders", "inventory"), ("inventory", "postgresql")}

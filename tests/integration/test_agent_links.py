"""Links through a real agent: create, toxics as faults, expiry, reset, delete, metrics."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ial_resilience.agent.client import AgentClient
from ial_resilience.errors import FaultRejected, InputError
from tests.agent_fixtures import start_agent


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentClient]:
    with start_agent(tmp_path / "state") as running:
        yield running.client


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # a reset connection just ends
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    server.close()


def round_trip(address: str) -> float:
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        start = time.monotonic()
        conn.sendall(b"ping")
        assert conn.recv(16) == b"ping"
        return time.monotonic() - start


def latency(link: str, ms: int, duration_ms: int = 60_000) -> dict[str, object]:
    return {"kind": "latency", "target": {"link": link}, "params": {"latency_ms": ms},
            "duration_ms": duration_ms, "direction": "upstream"}  # fmt: skip


def test_latency_fault_delays_then_reverts(agent: AgentClient, echo_port: int) -> None:
    link = agent.create_link("api->db", "127.0.0.1:0", f"127.0.0.1:{echo_port}")
    assert link["name"] == "api->db" and link["upstream"] == f"127.0.0.1:{echo_port}"
    address = link["listen"]
    assert round_trip(address) < 0.18
    [applied] = agent.apply_faults([latency("api->db", 200)])
    assert applied["mechanism"] == "proxy" and applied["state"] == "active"
    assert agent.status()["links"][0]["toxics"][0]["id"] == applied["id"]
    assert round_trip(address) >= 0.18
    final = agent.revert_fault(applied["id"])
    assert final["state"] == "reverted" and final["evidence"]["landed"] is True
    assert round_trip(address) < 0.18
    assert agent.status()["links"][0]["toxics"] == []


def test_link_fault_expires_on_its_own(agent: AgentClient, echo_port: int) -> None:
    agent.create_link("a", "127.0.0.1:0", f"127.0.0.1:{echo_port}")
    [applied] = agent.apply_faults([latency("a", 50, duration_ms=200)])
    deadline = time.monotonic() + 10
    while agent.fault(applied["id"])["state"] == "active" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert agent.fault(applied["id"])["state"] == "expired"
    assert agent.status()["links"][0]["toxics"] == []


def test_bad_link_requests_and_bad_toxics_are_refused(agent: AgentClient, echo_port: int) -> None:
    link = agent.create_link("a", "127.0.0.1:0", f"127.0.0.1:{echo_port}")
    with pytest.raises(InputError, match="already exists"):
        agent.create_link("a", "127.0.0.1:0", f"127.0.0.1:{echo_port}")
    with pytest.raises(InputError, match=link["listen"].rsplit(":", 1)[1]):
        agent.create_link("b", link["listen"], f"127.0.0.1:{echo_port}")
    with pytest.raises(FaultRejected, match="latency_ms"):
        agent.apply_faults([latency("a", -1)])
    with pytest.raises(FaultRejected, match="HTTP-aware"):
        agent.apply_faults([{"kind": "http_abort", "target": {"link": "a"}, "duration_ms": 100,
                             "params": {"status": 503, "percentage": 100}}])  # fmt: skip
    with pytest.raises(FaultRejected, match="does not apply to a link"):
        agent.apply_faults([{"kind": "kill", "target": {"link": "a"}, "duration_ms": 100}])
    assert agent.faults() == []


def test_reset_delete_and_metrics(agent: AgentClient, echo_port: int) -> None:
    address = agent.create_link("a", "127.0.0.1:0", f"127.0.0.1:{echo_port}")["listen"]
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(b"x")
        assert conn.recv(1) == b"x"
        assert agent.reset_link("a") == 1
    text = agent.metrics()
    assert 'ialr_link_bytes_total{direction="upstream",link="a"} 1.0' in text
    assert 'ialr_link_connections_total{link="a"} 1.0' in text
    [applied] = agent.apply_faults([latency("a", 10)])
    agent.delete_link("a")
    assert agent.fault(applied["id"])["state"] == "reverted"
    assert agent.status()["links"] == []
    with pytest.raises(InputError, match="no link named"):
        agent.reset_link("a")

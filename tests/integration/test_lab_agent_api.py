"""The agent endpoints the lab added: repoint a link, respawn and remove a process."""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psutil
import pytest

from ial_resilience.agent.client import AgentClient
from ial_resilience.errors import InputError
from tests.agent_fixtures import agent, running_agent  # noqa: F401
from tests.lab_fixtures import wait_for

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


@contextmanager
def greeter(word: bytes) -> Iterator[int]:
    """A TCP server answering ``word`` to every connection."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(word)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        server.close()


def read_through(listen: str) -> bytes:
    host, _, port = listen.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        return conn.recv(16)


def test_a_link_can_be_repointed_to_another_upstream(agent: AgentClient) -> None:  # noqa: F811
    with greeter(b"one") as first, greeter(b"two") as second:
        link = agent.create_link("api->db", "127.0.0.1:0", f"127.0.0.1:{first}")
        assert read_through(link["listen"]) == b"one"
        snapshot = agent.update_link("api->db", f"127.0.0.1:{second}")
        assert snapshot["upstream"] == f"127.0.0.1:{second}"
        assert snapshot["listen"] == link["listen"]
        assert read_through(link["listen"]) == b"two"
    with pytest.raises(InputError, match="upstream"):
        agent.update_link("api->db", "nowhere")
    response = httpx.patch(f"{agent.url}/v1/links/api-%3Edb", json={"listen": "x"},
                           headers=dict(agent._http.headers))  # fmt: skip
    assert response.status_code == 400 and "upstream" in response.json()["error"]["message"]


def test_a_dead_process_is_respawned_and_a_removed_one_is_stopped(
    agent: AgentClient,  # noqa: F811
) -> None:
    first = agent.add_process("api-1", SLEEPER)
    with pytest.raises(InputError, match="still running"):
        agent.respawn_process("api-1")
    psutil.Process(first["pid"]).kill()
    wait_for(lambda: not {p["name"]: p for p in agent.processes()}["api-1"]["alive"], 10,
             "the agent to see api-1 dead")  # fmt: skip
    again = agent.respawn_process("api-1")
    assert again["pid"] != first["pid"] and again["alive"] and again["restarts"] == 1
    removed = agent.remove_process("api-1")
    assert removed["name"] == "api-1"
    assert "api-1" not in {p["name"] for p in agent.processes()}
    assert not psutil.pid_exists(again["pid"]) or (
        psutil.Process(again["pid"]).status() == psutil.STATUS_ZOMBIE
    )
    with pytest.raises(InputError, match="no process named"):
        agent.remove_process("api-1")

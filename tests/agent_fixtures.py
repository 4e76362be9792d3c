"""A real agent for tests: a subprocess on a free loopback port with a temporary state dir.

Use it from any test module::

    from tests.agent_fixtures import agent, running_agent  # noqa: F401  (pytest fixtures)

    def test_something(agent: AgentClient) -> None:
        agent.create_link("api->db", "127.0.0.1:0", "127.0.0.1:5432")

``running_agent`` yields a :class:`RunningAgent` (client, state dir, process) for tests that
need the process itself (signals, logs); ``agent`` yields just the :class:`AgentClient`. The
agent is stopped with SIGTERM at the end (which reverts every fault) and killed if it hangs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from ial_resilience.agent.client import AgentClient

START_TIMEOUT_S = 60.0  # a deadline, not a sleep: CI machines can be loaded
STOP_TIMEOUT_S = 10.0


@dataclass
class RunningAgent:
    client: AgentClient
    state_dir: Path
    process: subprocess.Popen[bytes]
    stderr_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM the agent and wait; returns its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


def wait_for_agent(state_dir: Path, process: subprocess.Popen[bytes], stderr: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _names(state_dir / "agent.json", process.pid):  # not a dead predecessor's
        if process.poll() is not None:
            raise RuntimeError(f"the agent exited with {process.returncode}: {stderr.read_text()}")
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the agent did not start in {START_TIMEOUT_S}s: {stderr.read_text()}"
            )
        time.sleep(0.02)


def _names(path: Path, pid: int) -> bool:
    try:
        return bool(json.loads(path.read_text()).get("pid") == pid)
    except (OSError, ValueError):
        return False


@contextmanager
def start_agent(state_dir: Path, *extra: str) -> Iterator[RunningAgent]:
    """Start ``python -m ial_resilience.agent.daemon`` and stop it at exit."""
    state_dir.mkdir(parents=True, exist_ok=True)
    stderr_path = state_dir.parent / f"{state_dir.name}.stderr"
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "ial_resilience.agent.daemon", "--state-dir", str(state_dir),
             "--port", "0", *extra],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    try:
        wait_for_agent(state_dir, process, stderr_path)
        client = AgentClient.from_state_dir(state_dir, timeout=10.0)
        running = RunningAgent(client, state_dir, process, stderr_path)
        try:
            yield running
        finally:
            client.close()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def running_agent(tmp_path: Path) -> Iterator[RunningAgent]:
    with start_agent(tmp_path / "agent-state") as running:
        yield running


@pytest.fixture
def agent(running_agent: RunningAgent) -> AgentClient:
    return running_agent.client

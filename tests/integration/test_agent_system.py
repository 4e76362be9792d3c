"""``ialr agent run --system FILE``: declared links, processes and faults exist at start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil

from tests.agent_fixtures import start_agent

SYSTEM = """\
version: 1
name: shop
links:
  api->db: {listen: "127.0.0.1:0", upstream: "127.0.0.1:9"}
processes:
  worker:
    command: ["PYTHON", "-c", "import time; time.sleep(120)"]
    replicas: 2
faults:
  - id: slow-db
    kind: network.latency
    target: {link: api->db}
    params: {latency: 50ms}
    duration: 10m
"""


def test_system_file_links_processes_and_faults(tmp_path: Path) -> None:
    system = tmp_path / "system.yaml"
    system.write_text(SYSTEM.replace("PYTHON", sys.executable))
    with start_agent(tmp_path / "state", "--system", str(system)) as running:
        status = running.client.status()
        assert [link["name"] for link in status["links"]] == ["api->db"]
        names = [process["name"] for process in status["processes"]]
        assert names == ["worker-1", "worker-2"]
        pids = [process["pid"] for process in status["processes"]]
        assert all(psutil.pid_exists(pid) for pid in pids)
        [fault] = status["faults"]
        assert fault["id"] == "slow-db" and fault["state"] == "active"
        assert fault["kind"] == "latency" and fault["mechanism"] == "proxy"
        assert fault["params"] == {"latency_ms": 50.0, "jitter_ms": 0.0}
        assert fault["duration_ms"] == 600_000
        assert running.stop() == 0
    assert not any(
        psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in pids
    )


def test_a_bad_system_file_stops_the_start(tmp_path: Path) -> None:
    system = tmp_path / "system.yaml"
    system.write_text("version: 1\nname: shop\nlinks:\n  a: {listen: nowhere}\n")
    state = tmp_path / "state"
    result = subprocess.run(
        [sys.executable, "-m", "ial_resilience.agent.daemon", "--state-dir", str(state),
         "--system", str(system)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 3
    assert "system.yaml:4" in result.stderr
    assert not (state / "agent.json").exists()

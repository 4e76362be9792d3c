"""``ialr lab up|status|logs|down`` twice on one state dir: nothing leaks between cycles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psutil
import pytest
from typer.testing import CliRunner

from ial_resilience.cli.main import app, main
from ial_resilience.lab import Lab, LabNotRunning

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(240)]
runner = CliRunner()


def _footprint(state_dir: Path) -> tuple[set[int], set[int]]:
    """Every pid and port of the running lab (agent, parts, replicas, links)."""
    lab = Lab(state_dir)
    info = lab.require()
    status = lab.status()
    pids = {info.agent_pid, *(int(p["pid"]) for p in status["parts"])}
    ports = {int(link["listen"].rsplit(":", 1)[1]) for link in status["links"]}
    for url in info.exports.values():
        tail = url.rsplit(":", 1)[1]
        ports.add(int(tail.split("/", 1)[0]))
    replicas = (status["control"] or {})["supervisor"]["replicas"]
    ports |= {int(r["port"]) for r in replicas}
    return pids, ports


def _leaks(pids: set[int], ports: set[int], state_dir: Path) -> dict[str, Any]:
    alive = [p for p in pids if psutil.pid_exists(p)
             and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]  # fmt: skip
    listening = sorted(
        port for c in psutil.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and (port := getattr(c.laddr, "port", 0)) in ports
    )  # fmt: skip
    mentioning = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if str(state_dir) in " ".join(proc.info["cmdline"] or []):
            mentioning.append(proc.info["pid"])
    found = {"alive": alive, "listening": listening, "mentioning": mentioning}
    return {k: v for k, v in found.items() if v}


def test_up_and_down_twice_leave_no_process_and_no_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_dir = tmp_path / "state"
    args = ["--state-dir", str(state_dir)]

    up = runner.invoke(app, ["lab", "up", *args, "--json"])
    assert up.exit_code == 0, up.output
    info = json.loads(up.output)
    assert set(info["variables"]) >= {
        "lb",
        "control",
        "db_dsn",
        "links.api->db",
        "links.client->lb",
    }

    again = runner.invoke(app, ["lab", "up", *args])
    assert again.exit_code == 0 and "already running" in again.output
    assert info["exports"]["lb"] in again.output

    status = runner.invoke(app, ["lab", "status", *args, "--json"])
    assert status.exit_code == 0, status.output
    parts = {p["name"]: p["state"] for p in json.loads(status.output)["parts"]}
    assert parts == dict.fromkeys(
        ["api-1", "api-2", "control", "db-primary", "db-replica", "payments"], "healthy"
    )
    logs = runner.invoke(app, ["lab", "logs", "db-replica", "-n", "50", *args])
    assert logs.exit_code == 0 and "replica ready to start" in logs.output

    pids, ports = _footprint(state_dir)
    down = runner.invoke(app, ["lab", "down", *args])
    assert down.exit_code == 0, down.output
    assert _leaks(pids, ports, state_dir) == {}

    lab = Lab(state_dir)
    second = lab.up()
    assert second.exports["lb"] != info["exports"]["lb"] or second.agent_pid != info["agent_pid"]
    pids, ports = _footprint(state_dir)
    assert lab.down() == []
    assert _leaks(pids, ports, state_dir) == {}
    assert not lab.is_running()

    assert main(["lab", "down", *args]) == 3
    assert "no lab is running" in capsys.readouterr().err
    with pytest.raises(LabNotRunning):
        lab.status()

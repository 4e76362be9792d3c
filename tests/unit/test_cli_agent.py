"""``ialr agent …`` through the CLI runner against a real agent (exit code and output)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from typer.testing import CliRunner

from ial_resilience.cli.main import app, main
from tests.agent_fixtures import RunningAgent, start_agent, wait_for_agent

runner = CliRunner()
SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningAgent]:
    with start_agent(tmp_path / "state") as agent:
        yield agent


def ialr(running: RunningAgent | Path, *args: str) -> tuple[int, str]:
    state_dir = running if isinstance(running, Path) else running.state_dir
    result = runner.invoke(app, ["agent", *args, "--state-dir", str(state_dir)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_status_shows_links_faults_and_processes(running: RunningAgent) -> None:
    running.client.add_process("web", argv=SLEEPER)
    running.client.apply_faults(
        [{"id": "p1", "kind": "pause", "target": {"process": "web"}, "duration_ms": 60_000}]
    )
    code, out = ialr(running, "status")
    assert code == 0
    assert "Faults (1)" in out and "p1" in out and "pause" in out and "active" in out
    assert "Processes (1)" in out and "web" in out and "Links (0)" in out
    code, out = ialr(running, "status", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["faults"][0]["id"] == "p1" and data["processes"][0]["paused"] is True


def test_fault_add_and_rm(running: RunningAgent) -> None:
    pid = running.client.add_process("web", argv=SLEEPER)["pid"]
    code, out = ialr(
        running, "fault", "add", "--process", "web", "--kind", "pause", "--duration", "30s",
        "--id", "p1",
    )  # fmt: skip
    assert code == 0 and "Applied p1 (pause), reverted in 30.0s" in out
    assert psutil.Process(pid).status() == psutil.STATUS_STOPPED
    code, out = ialr(running, "fault", "rm", "p1")
    assert code == 0 and "Fault p1 reverted" in out and "seen_stopped=True" in out
    assert psutil.Process(pid).status() != psutil.STATUS_STOPPED


def test_link_add_fault_with_params_and_revert_all(running: RunningAgent, tmp_path: Path) -> None:
    code, out = ialr(running, "link", "add", "db", "--listen", "127.0.0.1:0", "--upstream",
                     "127.0.0.1:9")  # fmt: skip
    assert code == 0 and out.startswith("Link db: 127.0.0.1:") and "-> 127.0.0.1:9" in out
    code, out = ialr(running, "fault", "add", "--link", "db", "--kind", "latency", "--param",
                     "latency_ms=200", "--duration", "30s", "--json")  # fmt: skip
    assert code == 0
    fault = json.loads(out)
    assert fault["params"] == {"latency_ms": 200} and fault["duration_ms"] == 30_000
    code, out = ialr(running, "revert-all")
    assert code == 0 and out.strip() == f"Reverted 1 fault(s): {fault['id']}."
    code, out = ialr(running, "revert-all", "--json")
    assert code == 0 and json.loads(out) == {"reverted": []}


def test_errors_exit_with_their_codes(
    running: RunningAgent, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = ["--state-dir", str(running.state_dir)]
    assert main(["agent", "fault", "add", "--host", "--kind", "memory", "--param", "bytes=100TiB",
                 "--duration", "5s", *state]) == 5  # fmt: skip
    assert "above the bound" in capsys.readouterr().err
    assert (
        main(["agent", "fault", "add", "--host", "--kind", "cpu", "--duration", "soon", *state])
        == 3
    )
    assert "--duration" in capsys.readouterr().err
    assert main(["agent", "fault", "add", "--kind", "cpu", "--duration", "1s", *state]) == 3
    assert "exactly one target" in capsys.readouterr().err
    assert main(["agent", "fault", "rm", "nope", *state]) == 5
    assert "no fault with id 'nope'" in capsys.readouterr().err
    assert main(["agent", "status", "--state-dir", str(tmp_path / "empty")]) == 5
    err = capsys.readouterr().err
    assert "no agent is running" in err and "ialr agent run" in err
    assert main(["agent", "run", "--host", "0.0.0.0", "--state-dir", str(tmp_path / "x")]) == 3
    assert "127.0.0.1 only" in capsys.readouterr().err


def test_agent_run_serves_until_sigterm(tmp_path: Path) -> None:
    state = tmp_path / "state"
    stderr = tmp_path / "stderr"
    with open(stderr, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "ial_resilience.cli.main", "agent", "run",
             "--state-dir", str(state)],
            stdout=subprocess.DEVNULL, stderr=sink,
        )  # fmt: skip
    try:
        wait_for_agent(state, process, stderr)
        code, out = ialr(state, "status")
        assert code == 0 and "Links (0)" in out
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)
    assert process.returncode == 0
    assert "agent stopped" in stderr.read_text()
    assert not (state / "agent.json").exists()


def test_process_add_and_link_rm(running: RunningAgent) -> None:
    state = ["--state-dir", str(running.state_dir)]
    result = runner.invoke(app, ["agent", "process", "add", "web", *state, "--", *SLEEPER])
    code, out = result.exit_code, result.output
    assert code == 0 and out.startswith("Process web started, pid ")
    pid = int(out.strip().rstrip(".").rsplit(" ", 1)[1])
    assert psutil.pid_exists(pid)
    outsider = subprocess.Popen(SLEEPER)
    try:
        code, out = ialr(
            running, "process", "add", "outsider", "--pid", str(outsider.pid), "--json"
        )
        assert code == 0 and json.loads(out)["origin"] == "adopted"
    finally:
        outsider.kill()
        outsider.wait()
    assert [p["name"] for p in running.client.processes()] == ["web", "outsider"]
    running.client.create_link("db", "127.0.0.1:0", "127.0.0.1:9")
    code, out = ialr(running, "link", "rm", "db")
    assert code == 0 and out.strip() == "Link db deleted."
    assert running.client.status()["links"] == []


def test_process_add_needs_exactly_one_way(
    running: RunningAgent, capsys: pytest.CaptureFixture[str]
) -> None:
    state = ["--state-dir", str(running.state_dir)]
    assert main(["agent", "process", "add", "web", *state]) == 3
    assert "either a command" in capsys.readouterr().err

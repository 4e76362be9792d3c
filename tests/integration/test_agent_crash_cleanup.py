"""``ialr chaos cleanup`` when the agent is dead (and its watchdog too), or hangs."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from ial_resilience.cli.main import main
from ial_resilience.engine.ledger import Ledger, LedgerEvent
from tests.agent_fixtures import RunningAgent, start_agent
from tests.integration.test_agent_crash import SLEEPER, kill_agent_and_watchdog, pause, status


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


KEY = "pause-victim"  # the ledger key is the agent fault's id (LocalProvider.requests)


def pending_pause(agent: RunningAgent, key: str = KEY) -> None:
    """What the engine writes around applying ``process.pause`` with ``key``, then dies."""
    ledger = Ledger(agent.state_dir, "run-1")
    ledger.write(LedgerEvent.INTENT, key, fault="process.pause", target="victim",
                 provider="local", expires_at=time.time() + 120)  # fmt: skip
    pause(agent.client, "victim")
    ledger.write(LedgerEvent.APPLIED, key, handles=[key], mechanism="signal")
    ledger.close()


@pytest.fixture
def victim() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(SLEEPER)
    yield process
    process.send_signal(signal.SIGCONT)
    process.kill()
    process.wait()


def test_cleanup_with_a_dead_agent_repairs_and_marks_its_faults_ended(
    tmp_path: Path, victim: subprocess.Popen[bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    with start_agent(state) as agent:
        agent.client.add_process("victim", pid=victim.pid)
        pending_pause(agent)
        dead_pid = kill_agent_and_watchdog(agent)
    assert status(victim.pid) == psutil.STATUS_STOPPED

    code, out, err = cli(capsys, "chaos", "cleanup", "--json", "--state-dir", str(state))
    assert code == 0, err
    report = json.loads(out)
    assert report["pending"] == 1 and report["reverted"] == 0
    [result] = report["results"]
    assert result["already_gone"] == [KEY] and result["error"] is None
    assert "ended with the agent" in result["note"]
    [repaired] = report["repaired"]
    assert repaired["agent_pid"] == dead_pid
    assert {"name": "victim", "pid": victim.pid, "held": "paused", "action": "resumed",
            "detail": ""} in repaired["processes"]  # fmt: skip
    assert status(victim.pid) != psutil.STATUS_STOPPED
    assert not (state / "agent.json").exists()

    code, out, _ = cli(capsys, "chaos", "cleanup", "--state-dir", str(state))
    assert code == 0 and "nothing to clean up" in out
    code, _, err = cli(capsys, "agent", "status", "--state-dir", str(state))
    assert code == 5 and "no agent is running" in err


def test_cleanup_refuses_while_the_agent_runs_but_does_not_answer(
    tmp_path: Path, victim: subprocess.Popen[bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    with start_agent(tmp_path / "state") as agent:
        agent.client.add_process("victim", pid=victim.pid)
        pending_pause(agent)
        agent.process.send_signal(signal.SIGSTOP)
        try:
            code, out, err = cli(capsys, "chaos", "cleanup", "--state-dir", str(agent.state_dir))
        finally:
            agent.process.send_signal(signal.SIGCONT)
        assert code == 5, out
        assert f"(pid {agent.process.pid}) runs but does not answer" in err
        assert f"kill -9 {agent.process.pid}" in err
        assert status(victim.pid) == psutil.STATUS_STOPPED  # the live agent still holds it
        code, out, _ = cli(
            capsys, "chaos", "cleanup", "--json", "--state-dir", str(agent.state_dir)
        )
        assert code == 0 and json.loads(out)["results"][0]["reverted"] == [KEY]
        assert status(victim.pid) != psutil.STATUS_STOPPED


def test_cleanup_text_says_what_it_repaired_and_why_the_fault_ended(
    tmp_path: Path, victim: subprocess.Popen[bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    with start_agent(state) as agent:
        agent.client.add_process("victim", pid=victim.pid)
        pending_pause(agent)
        dead_pid = kill_agent_and_watchdog(agent)

    code, out, err = cli(capsys, "chaos", "cleanup", "--state-dir", str(state))
    assert code == 0, err
    assert f"agent {dead_pid} (dead): resumed paused process victim (pid {victim.pid})" in out
    assert "ended with the agent" in out and "already gone" not in out
    assert status(victim.pid) != psutil.STATUS_STOPPED

"""``kill -9`` of the agent itself: its watchdog resumes what it paused and stops what it spawned.

Every test kills a real agent process (SIGKILL) and watches real processes: an adopted sleeper
(someone else's process, SIGSTOP-ed by the agent) and processes the agent spawned.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from ial_resilience.agent.client import AgentClient
from tests.agent_fixtures import RunningAgent, start_agent
from tests.lab_fixtures import wait_for as lab_wait_for

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]
STUBBORN = [
    sys.executable,
    "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)",
]
DEADLINE_S = 15.0


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = DEADLINE_S) -> Any:
    """``tests.lab_fixtures.wait_for`` polling every 5 ms (resume latency is printed)."""
    return lab_wait_for(predicate, timeout, what, every=0.005)


def status(pid: int) -> str:
    try:
        return str(psutil.Process(pid).status())
    except psutil.NoSuchProcess:
        return "gone"


def gone(pid: int) -> bool:
    return status(pid) in ("gone", psutil.STATUS_ZOMBIE)


def watchdog_of(agent: RunningAgent) -> psutil.Process:
    def find() -> psutil.Process | None:
        for child in psutil.Process(agent.process.pid).children():
            try:
                if "ial_resilience.agent.watchdog" in " ".join(child.cmdline()):
                    return child
            except psutil.Error:  # a watchdog just killed, not yet reaped
                continue
        return None

    found: psutil.Process = wait_for(find, "the agent's watchdog")
    return found


def pause(client: AgentClient, name: str) -> None:
    client.apply_faults(
        [{"id": f"pause-{name}", "kind": "pause", "target": {"process": name},
          "duration_ms": 120_000}]
    )  # fmt: skip


def kill_agent_and_watchdog(agent: RunningAgent) -> int:
    """SIGKILL the watchdog, then the agent (stopped first so it starts no new watchdog):
    nobody is left to repair what it held. The dead agent's pid."""
    watchdog = watchdog_of(agent)
    agent.process.send_signal(signal.SIGSTOP)
    watchdog.kill()
    wait_for(lambda: gone(watchdog.pid), "the watchdog to die")
    agent.process.kill()
    agent.process.wait(10)
    return agent.process.pid


def held_files(state_dir: Path) -> list[str]:
    return sorted(p.name for p in (state_dir / "held").glob("agent-*.json"))


@pytest.fixture
def victim() -> Iterator[subprocess.Popen[bytes]]:
    """Someone else's process for the agent to adopt; always resumed and reaped at the end."""
    process = subprocess.Popen(SLEEPER)
    yield process
    process.send_signal(signal.SIGCONT)
    process.kill()
    process.wait()


def test_kill_9_resumes_paused_processes_and_stops_spawned_ones(
    tmp_path: Path, victim: subprocess.Popen[bytes]
) -> None:
    with start_agent(tmp_path / "state") as agent:
        client = agent.client
        client.add_process("victim", pid=victim.pid)
        worker = client.add_process("worker", argv=SLEEPER)["pid"]
        stubborn = client.add_process("stubborn", argv=STUBBORN)["pid"]
        family = client.add_process("family", argv=["sh", "-c", "sleep 120 & wait"])["pid"]
        [grandchild] = wait_for(lambda: psutil.Process(family).children(), "the grandchild")
        pause(client, "victim")
        pause(client, "worker")
        assert status(victim.pid) == status(worker) == psutil.STATUS_STOPPED
        watchdog = watchdog_of(agent)

        killed = time.monotonic()
        agent.process.kill()
        wait_for(lambda: status(victim.pid) != psutil.STATUS_STOPPED, "the victim to resume")
        resumed_after = time.monotonic() - killed
        agent.process.wait(10)

        assert status(victim.pid) in (psutil.STATUS_SLEEPING, psutil.STATUS_RUNNING)
        wait_for(lambda: gone(worker), "the spawned worker to stop")
        wait_for(lambda: gone(stubborn), "the stubborn one to be killed after the grace")
        wait_for(lambda: gone(family) and gone(grandchild.pid), "the family's process group")
        wait_for(lambda: not watchdog.is_running(), "the watchdog to exit")
        log = (agent.state_dir / "agent.log").read_text()
        assert f"resumed paused process 'victim' (pid {victim.pid})" in log
        assert f"resumed paused process 'worker' (pid {worker})" in log
        assert f"stopped spawned process 'worker' (pid {worker})" in log
        assert f"killed spawned process 'stubborn' (pid {stubborn}): still running after" in log
        assert f"agent {agent.process.pid} died without cleaning up; repaired 5" in log
        assert not (agent.state_dir / "agent.json").exists()
        assert held_files(agent.state_dir) == []
        print(f"victim resumed {resumed_after * 1000:.1f} ms after SIGKILL of the agent")


def test_clean_exit_leaves_nothing_for_the_watchdog(
    tmp_path: Path, victim: subprocess.Popen[bytes]
) -> None:
    with start_agent(tmp_path / "state") as agent:
        agent.client.add_process("victim", pid=victim.pid)
        worker = agent.client.add_process("worker", argv=SLEEPER)["pid"]
        pause(agent.client, "victim")
        watchdog = watchdog_of(agent)
        assert held_files(agent.state_dir) == [f"agent-{agent.process.pid}.json"]
        assert agent.stop() == 0
        assert not watchdog.is_running()  # the agent waited for it
        assert status(victim.pid) != psutil.STATUS_STOPPED and gone(worker)
        assert held_files(agent.state_dir) == []
        assert "died without cleaning up" not in (agent.state_dir / "agent.log").read_text()


def test_a_killed_watchdog_is_replaced_and_the_new_one_repairs(
    tmp_path: Path, victim: subprocess.Popen[bytes]
) -> None:
    with start_agent(tmp_path / "state") as agent:
        agent.client.add_process("victim", pid=victim.pid)
        first = watchdog_of(agent)
        first.kill()
        second = wait_for(
            lambda: (w := watchdog_of(agent)).pid != first.pid and w, "a new watchdog"
        )
        pause(agent.client, "victim")
        agent.process.kill()
        agent.process.wait(10)
        wait_for(lambda: status(victim.pid) != psutil.STATUS_STOPPED, "the victim to resume")
        wait_for(lambda: not second.is_running(), "the new watchdog to exit")
        assert f"watchdog {first.pid} exited" in (agent.state_dir / "agent.log").read_text()


def test_the_next_agent_repairs_what_a_dead_agent_and_watchdog_left(
    tmp_path: Path, victim: subprocess.Popen[bytes]
) -> None:
    state = tmp_path / "state"
    with start_agent(state) as agent:
        agent.client.add_process("victim", pid=victim.pid)
        worker = agent.client.add_process("worker", argv=SLEEPER)["pid"]
        pause(agent.client, "victim")
        dead_pid = kill_agent_and_watchdog(agent)
    # nobody is left to repair: the victim stays stopped, the worker runs on
    assert status(victim.pid) == psutil.STATUS_STOPPED and not gone(worker)
    assert held_files(state) == [f"agent-{dead_pid}.json"]

    assert json.loads((state / "agent.json").read_text())["pid"] == dead_pid  # stale
    with start_agent(state) as successor:  # it takes over the stale agent.json
        assert status(victim.pid) != psutil.STATUS_STOPPED
        wait_for(lambda: gone(worker), "the dead agent's worker to stop")
        log = (state / "agent.log").read_text()
        assert f"agent {dead_pid} had died without cleaning up; repaired 2 process(es)" in log
        assert f"resumed paused process 'victim' (pid {victim.pid})" in log
        assert held_files(state) == [f"agent-{successor.process.pid}.json"]
        assert successor.client.processes() == []


def test_a_pid_reused_since_is_never_signalled(tmp_path: Path) -> None:
    """A holdings file naming live pids with other create times: nothing is signalled."""
    from ial_resilience.agent.repair import RepairAction, repair_dead_agents
    from ial_resilience.agent.state import HeldKind, HeldProcess, Holdings, write_holdings

    dead = subprocess.Popen(["true"])
    dead.wait()
    stopped = subprocess.Popen(SLEEPER)
    running = subprocess.Popen(SLEEPER)
    try:
        stopped.send_signal(signal.SIGSTOP)
        wait_for(lambda: status(stopped.pid) == psutil.STATUS_STOPPED, "the sleeper to stop")
        created = {p.pid: psutil.Process(p.pid).create_time() for p in (stopped, running)}
        held = (
            HeldProcess(HeldKind.PAUSED, "old-paused", stopped.pid, created[stopped.pid] - 60),
            HeldProcess(HeldKind.SPAWNED, "old-spawned", running.pid, created[running.pid] - 60),
        )
        write_holdings(tmp_path, Holdings(dead.pid, time.time() - 120, held))
        [report] = repair_dead_agents(tmp_path, grace=0.5)
        assert [item.action for item in report.items] == [RepairAction.REUSED] * 2
        assert status(stopped.pid) == psutil.STATUS_STOPPED and not gone(running.pid)
        assert held_files(tmp_path) == []

        right = (HeldProcess(HeldKind.PAUSED, "paused", stopped.pid, created[stopped.pid]),)
        write_holdings(tmp_path, Holdings(dead.pid, time.time() - 120, right))
        [report] = repair_dead_agents(tmp_path)
        assert [item.action for item in report.items] == [RepairAction.RESUMED]
        assert status(stopped.pid) != psutil.STATUS_STOPPED
    finally:
        for process in (stopped, running):
            process.send_signal(signal.SIGCONT)
            process.kill()
            process.wait()


def test_holdings_name_the_live_agent_and_are_left_alone(
    tmp_path: Path, victim: subprocess.Popen[bytes]
) -> None:
    from ial_resilience.agent.repair import repair_dead_agents

    with start_agent(tmp_path / "state") as agent:
        agent.client.add_process("victim", pid=victim.pid)
        pause(agent.client, "victim")
        assert repair_dead_agents(agent.state_dir) == []
        assert status(victim.pid) == psutil.STATUS_STOPPED
        assert os.path.exists(agent.state_dir / "held" / f"agent-{agent.process.pid}.json")

"""Faults through a real agent: atomic sets, expiry, revert-all, process and resource faults."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from ial_resilience.agent.client import AgentClient
from ial_resilience.errors import FaultRejected
from tests.agent_fixtures import start_agent

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentClient]:
    with start_agent(tmp_path / "state") as running:
        yield running.client


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def status_of(pid: int) -> str:
    try:
        return str(psutil.Process(pid).status())
    except psutil.NoSuchProcess:
        return "gone"


def fault(
    kind: str, target: dict[str, object], duration_ms: int = 60_000, **params: object
) -> dict[str, object]:
    return {"kind": kind, "target": target, "duration_ms": duration_ms, "params": params}


def test_a_set_with_an_invalid_fault_applies_nothing(agent: AgentClient) -> None:
    pid = agent.add_process("web", argv=SLEEPER)["pid"]
    with pytest.raises(FaultRejected, match="no process named 'ghost'"):
        agent.apply_faults(
            [fault("pause", {"process": "web"}), fault("kill", {"process": "ghost"})]
        )
    assert status_of(pid) != psutil.STATUS_STOPPED
    assert agent.faults() == []


def test_a_set_whose_second_fault_fails_to_apply_reverts_the_first(agent: AgentClient) -> None:
    pid = agent.add_process("web", argv=SLEEPER)["pid"]
    dead = agent.add_process("dead", argv=["true"])
    assert wait_for(lambda: not agent.processes()[1]["alive"]), dead
    with pytest.raises(FaultRejected, match=r"fault second .*failed to apply.*1 fault"):
        agent.apply_faults([
            {**fault("pause", {"process": "web"}), "id": "first"},
            {**fault("kill", {"process": "dead"}), "id": "second"},
        ])  # fmt: skip
    assert status_of(pid) != psutil.STATUS_STOPPED
    states = {f["id"]: f["state"] for f in agent.faults()}
    assert states == {"first": "reverted", "second": "failed"}


def test_a_fault_expires_without_any_client_request(agent: AgentClient) -> None:
    pid = agent.add_process("web", argv=SLEEPER)["pid"]
    [applied] = agent.apply_faults([fault("pause", {"process": "web"}, duration_ms=300)])
    assert applied["expires_at"] == pytest.approx(applied["applied_at"] + 0.3)
    assert status_of(pid) == psutil.STATUS_STOPPED
    # watch the process only, not the agent: the expiry must fire on its own
    assert wait_for(lambda: status_of(pid) != psutil.STATUS_STOPPED, timeout=10)
    # the revert finishes (records the release, keeps the evidence) just after the SIGCONT
    assert wait_for(lambda: agent.fault(applied["id"])["state"] != "active", timeout=10)
    final = agent.fault(applied["id"])
    assert final["state"] == "expired"
    assert final["evidence"]["seen_stopped"] is True
    assert final["evidence"]["stopped_for_s"] >= 0.3


def test_revert_all_and_revert_one(agent: AgentClient) -> None:
    a = agent.add_process("a", argv=SLEEPER)["pid"]
    b = agent.add_process("b", argv=SLEEPER)["pid"]
    applied = agent.apply_faults(
        [fault("pause", {"process": "a"}), fault("pause", {"process": "b"})]
    )
    first = agent.revert_fault(applied[0]["id"])
    assert first["state"] == "reverted" and first["reverted_at"] >= first["applied_at"]
    assert status_of(a) != psutil.STATUS_STOPPED and status_of(b) == psutil.STATUS_STOPPED
    assert agent.revert_fault(applied[0]["id"])["state"] == "reverted"  # idempotent
    reverted = agent.revert_all()
    assert [f["id"] for f in reverted] == [applied[1]["id"]]
    assert status_of(b) != psutil.STATUS_STOPPED
    assert agent.revert_all() == []
    assert 'ialr_agent_faults_total{event="reverted",kind="pause"} 2.0' in agent.metrics()


def test_kill_then_revert_respawns_a_spawned_process(agent: AgentClient) -> None:
    pid = agent.add_process("web", argv=SLEEPER)["pid"]
    [killed] = agent.apply_faults([fault("kill", {"process": "web"})])
    assert killed["mechanism"] == "signal"
    assert killed["evidence"] == {
        "pid": pid, "signal": "SIGKILL", "exit_observed": True, "exit_status": -9, "landed": True,
    }  # fmt: skip
    assert status_of(pid) == "gone"
    [web] = agent.processes()
    assert web["alive"] is False and web["pid"] == pid
    reverted = agent.revert_fault(killed["id"])
    new_pid = reverted["evidence"]["respawned_pid"]
    assert new_pid != pid and psutil.pid_exists(new_pid)
    assert agent.processes()[0]["restarts"] == 1


def test_restart_gives_a_new_pid_and_needs_a_spawned_process(agent: AgentClient) -> None:
    old = agent.add_process("web", argv=SLEEPER)["pid"]
    [restarted] = agent.apply_faults([fault("restart", {"process": "web"}, grace_ms=2000)])
    evidence = restarted["evidence"]
    assert evidence["old_pid"] == old and evidence["new_pid"] != old and evidence["landed"]
    assert status_of(old) == "gone" and psutil.pid_exists(evidence["new_pid"])
    outsider = subprocess.Popen(SLEEPER)
    try:
        agent.add_process("outsider", pid=outsider.pid)
        with pytest.raises(FaultRejected, match="adopted by pid"):
            agent.apply_faults([fault("restart", {"process": "outsider"})])
        [killed] = agent.apply_faults([fault("kill", {"process": "outsider"}, signal="SIGTERM")])
        assert killed["evidence"]["exit_observed"] is True
        assert "respawned_pid" not in agent.revert_fault(killed["id"])["evidence"]
    finally:
        outsider.kill()
        outsider.wait()


def test_resource_bounds_are_refused_with_the_bound_and_the_asked_value(
    agent: AgentClient, tmp_path: Path
) -> None:
    cores = os.cpu_count() or 1
    with pytest.raises(FaultRejected, match=f"workers {cores + 1} is above the bound of {cores}"):
        agent.apply_faults([fault("cpu", {"host": True}, workers=cores + 1)])
    with pytest.raises(FaultRejected, match=r"above the bound of .*50% of available memory"):
        agent.apply_faults([fault("memory", {"host": True}, bytes="100TiB")])
    with pytest.raises(FaultRejected, match=r"above the bound of .*50% of the free space"):
        agent.apply_faults([fault("disk", {"host": True}, directory=str(tmp_path), bytes="100TiB")])
    with pytest.raises(FaultRejected, match="not an existing absolute directory"):
        agent.apply_faults([fault("disk", {"host": True}, directory="/no/such/dir", bytes=1024)])
    with pytest.raises(FaultRejected, match="load"):
        agent.apply_faults([fault("cpu", {"host": True}, load=150)])
    assert agent.faults() == []


def test_disk_fill_writes_the_file_and_revert_removes_it(
    agent: AgentClient, tmp_path: Path
) -> None:
    size = 4 << 20
    [filled] = agent.apply_faults(
        [fault("disk", {"host": True}, directory=str(tmp_path), bytes=size)]
    )
    assert filled["mechanism"] == "stress"
    path = Path(filled["evidence"]["path"])
    assert path.parent == tmp_path
    assert wait_for(lambda: agent.fault(filled["id"])["evidence"]["complete"])
    assert path.stat().st_size == size
    final = agent.revert_fault(filled["id"])["evidence"]
    assert final["bytes_written"] == size and final["removed"] is True and final["landed"]
    assert not path.exists()


def test_memory_fault_holds_the_bytes_until_revert(agent: AgentClient) -> None:
    size = 32 << 20
    [held] = agent.apply_faults([fault("memory", {"host": True}, bytes=size)])
    evidence = held["evidence"]
    assert evidence["rss_bytes"] >= size and evidence["landed"]
    child = evidence["pid"]
    assert psutil.Process(child).memory_info().rss >= size
    agent.revert_fault(held["id"])
    assert status_of(child) == "gone"


def test_cpu_fault_burns_cpu_in_workers_until_revert(agent: AgentClient) -> None:
    [burning] = agent.apply_faults([fault("cpu", {"host": True}, workers=1, load=50)])
    [worker] = burning["evidence"]["worker_pids"]
    assert wait_for(lambda: agent.fault(burning["id"])["evidence"]["cpu_seconds"] >= 0.2)
    final = agent.revert_fault(burning["id"])["evidence"]
    assert final["cpu_seconds"] >= 0.2 and final["landed"]
    assert status_of(worker) == "gone"


def test_a_second_pause_on_the_same_process_is_refused(agent: AgentClient) -> None:
    pid = agent.add_process("web", argv=SLEEPER)["pid"]
    [first] = agent.apply_faults([fault("pause", {"process": "web"})])
    with pytest.raises(FaultRejected, match="already paused"):
        agent.apply_faults([fault("pause", {"process": "web"})])
    assert status_of(pid) == psutil.STATUS_STOPPED
    agent.revert_fault(first["id"])
    assert status_of(pid) != psutil.STATUS_STOPPED

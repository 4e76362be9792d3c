"""Repair what a dead agent held: resume what it paused, stop what it spawned.

An agent records its holdings in ``held/agent-<pid>.json`` (:mod:`ial_resilience.agent.state`).
When that agent is dead and its file is still there, the agent did not exit cleanly, and
:func:`repair_dead_agents` puts things right:

- a process it paused (SIGSTOP) gets SIGCONT;
- a process it spawned is stopped as at a clean agent exit: SIGTERM and SIGCONT to its process
  group (the agent starts each one in its own session), SIGKILL to what is left after the grace.

Nothing is signalled unless its create time is the one recorded: a pid the kernel has given to
another process since is left alone (``reused``). The agent's own liveness is judged the same
way, so a reused agent pid is not mistaken for a live agent.

Callers: the agent's watchdog the moment the agent dies (:mod:`ial_resilience.agent.watchdog`),
the next agent started on the state dir, and ``ialr chaos cleanup`` when no agent runs. Repairs
take ``held/.lock`` so two of them never work on the same file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import psutil

from ial_resilience.agent.state import (
    AGENT_FILE,
    HeldKind,
    HeldProcess,
    Holdings,
    held_dir,
    held_path,
    holdings_files,
    holdings_lock,
    read_agent_info,
    read_holdings,
)
from ial_resilience.errors import AgentUnreachable

log = logging.getLogger("ialr.agent")
STOP_GRACE_S = 2.0  # as ProcessTable.stop_spawned at a clean exit
SAME_START_S = 0.01  # create times are read from /proc with 10 ms resolution
POLL_S = 0.01


class RepairAction(StrEnum):
    RESUMED = "resumed"  # SIGCONT sent
    STOPPED = "stopped"  # exited after SIGTERM
    KILLED = "killed"  # still there after the grace: SIGKILL
    GONE = "gone"  # not running any more: nothing to do
    REUSED = "reused"  # the pid is another process now: left alone
    FAILED = "failed"  # could not be signalled (another user's process)


@dataclass(frozen=True)
class Repaired:
    held: HeldProcess
    action: RepairAction
    detail: str = ""

    def describe(self) -> str:
        held = self.held
        text = f"{self.action} {held.kind} process {held.name!r} (pid {held.pid})"
        return f"{text}: {self.detail}" if self.detail else text

    def to_json(self) -> dict[str, Any]:
        held = self.held
        return {"name": held.name, "pid": held.pid, "held": str(held.kind),
                "action": str(self.action), "detail": self.detail}  # fmt: skip


@dataclass(frozen=True)
class RepairReport:
    """What one dead agent's holdings needed."""

    agent_pid: int
    items: tuple[Repaired, ...]

    def to_json(self) -> dict[str, Any]:
        return {"agent_pid": self.agent_pid, "processes": [i.to_json() for i in self.items]}


def _identify(pid: int, create_time: float) -> psutil.Process | RepairAction:
    """The live process with that pid and create time, else GONE or REUSED."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return RepairAction.GONE
        same = abs(process.create_time() - create_time) < SAME_START_S
    except psutil.NoSuchProcess:
        return RepairAction.GONE
    except psutil.Error:
        return RepairAction.FAILED
    return process if same else RepairAction.REUSED


def process_running(pid: int, create_time: float, *, unknown: bool = False) -> bool:
    """True when the process with that pid and create time still runs (a zombie does not);
    ``unknown`` when it cannot be looked at (another user's process)."""
    found = _identify(pid, create_time)
    return unknown if found is RepairAction.FAILED else isinstance(found, psutil.Process)


def agent_alive(holdings: Holdings) -> bool:
    """True when the agent that wrote ``holdings`` still runs (same pid, same create time)."""
    return process_running(holdings.agent_pid, holdings.agent_create_time)


def _signal(process: psutil.Process, signum: int, *, group: bool) -> None:
    """Signal the process (its whole group when it leads one); a vanished one is ignored, and
    so is one whose pid was reused since it was identified (``is_running`` compares create
    times)."""
    if not process.is_running():
        return
    with contextlib.suppress(ProcessLookupError):
        if group and os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signum)
        else:
            os.kill(process.pid, signum)


def _resume(held: HeldProcess) -> Repaired:
    found = _identify(held.pid, held.create_time)
    if not isinstance(found, psutil.Process):
        return Repaired(held, found)
    try:
        _signal(found, signal.SIGCONT, group=False)
    except PermissionError as error:
        return Repaired(held, RepairAction.FAILED, f"SIGCONT not permitted: {error.strerror}")
    return Repaired(held, RepairAction.RESUMED)


def _stop_all(spawned: list[HeldProcess], grace: float) -> list[Repaired]:
    """SIGTERM + SIGCONT to every spawned process group at once, SIGKILL after ``grace``."""
    results: list[Repaired] = []
    targets: dict[int, tuple[HeldProcess, psutil.Process]] = {}
    for held in spawned:
        found = _identify(held.pid, held.create_time)
        if not isinstance(found, psutil.Process):
            results.append(Repaired(held, found))
            continue
        try:
            for signum in (signal.SIGTERM, signal.SIGCONT):
                _signal(found, signum, group=True)
        except PermissionError as error:
            results.append(Repaired(held, RepairAction.FAILED, f"not permitted: {error.strerror}"))
            continue
        targets[held.pid] = (held, found)
    stubborn = _still_running([found for _, found in targets.values()], grace)
    for pid, (held, found) in targets.items():
        if pid in stubborn:
            with contextlib.suppress(OSError):
                _signal(found, signal.SIGKILL, group=True)
            results.append(Repaired(held, RepairAction.KILLED, f"still running after {grace:g} s"))
        else:
            results.append(Repaired(held, RepairAction.STOPPED))
    return results


def _alive(process: psutil.Process) -> bool:
    """Still this very process (same create time), and not a zombie."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _still_running(processes: list[psutil.Process], timeout: float) -> set[int]:
    """Wait until every process has exited (a zombie has: its parent may never reap it, if
    that is an init that does not); the pids still running at ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        running = {p.pid for p in processes if _alive(p)}
        if not running or time.monotonic() >= deadline:
            return running
        time.sleep(POLL_S)


def repair(holdings: Holdings, grace: float = STOP_GRACE_S) -> RepairReport:
    """Resume every paused process first (it may be waited on), then stop the spawned ones."""
    paused = [p for p in holdings.processes if p.kind is HeldKind.PAUSED]
    spawned = [p for p in holdings.processes if p.kind is HeldKind.SPAWNED]
    items = [_resume(held) for held in paused] + _stop_all(spawned, grace)
    return RepairReport(holdings.agent_pid, tuple(items))


def running_agent_pid(state_dir: Path) -> int | None:
    """The pid of the agent ``agent.json`` names when that agent still runs (answering or not);
    None when none runs. Judged by its holdings file's create time when it has one."""
    try:
        pid = read_agent_info(state_dir).pid
    except AgentUnreachable:
        return None
    holdings = read_holdings(held_path(state_dir, pid))
    running = agent_alive(holdings) if holdings is not None else _running(pid)
    return pid if running else None


def _forget_agent_file(state_dir: Path, agent_pid: int) -> None:
    """Remove ``agent.json`` when it still names the dead agent and no live process has its
    pid (a new agent reusing the pid keeps its file)."""
    with contextlib.suppress(AgentUnreachable):
        if read_agent_info(state_dir).pid == agent_pid and not _running(agent_pid):
            (state_dir / AGENT_FILE).unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True


def repair_dead_agents(state_dir: Path, grace: float = STOP_GRACE_S) -> list[RepairReport]:
    """Repair the holdings of every dead agent of ``state_dir``; live agents are left alone."""
    reports: list[RepairReport] = []
    if not held_dir(state_dir).is_dir():
        return reports  # no agent ever ran here
    with holdings_lock(state_dir):
        for path in holdings_files(state_dir):
            holdings = read_holdings(path)
            if holdings is None:
                log.warning("cannot read %s; left as it is", path)
                continue
            if agent_alive(holdings):
                continue
            report = repair(holdings, grace)
            for item in report.items:
                log.info("agent %d is gone: %s", holdings.agent_pid, item.describe())
            path.unlink(missing_ok=True)
            _forget_agent_file(state_dir, holdings.agent_pid)
            reports.append(report)
    return reports

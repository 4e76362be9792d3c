"""Starting the agent daemon for the lab, and stopping process trees without leaks."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import httpx
import psutil

from ial_resilience.agent.client import AgentClient
from ial_resilience.agent.state import AGENT_FILE, ensure_state_dir, read_agent_info
from ial_resilience.errors import AgentUnreachable
from ial_resilience.lab.model import LabStartFailed

AGENT_START_S = 20.0
POLL_S = 0.02


def agent_answers(state_dir: Path) -> AgentClient | None:
    """A client for the agent of ``state_dir`` when one is alive and answers; else None."""
    try:
        info = read_agent_info(state_dir)
        if not psutil.pid_exists(info.pid):
            return None
        client = AgentClient.from_state_dir(state_dir, timeout=10.0)
    except AgentUnreachable:
        return None
    try:
        client.health()
    except AgentUnreachable:
        client.close()
        return None
    return client


def start_agent(state_dir: Path) -> tuple[AgentClient, int]:
    """Start ``python -m ial_resilience.agent.daemon`` in its own session; wait for it."""
    ensure_state_dir(state_dir)
    (state_dir / AGENT_FILE).unlink(missing_ok=True)
    stderr_path = state_dir / "logs" / "agent.stderr"
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "ial_resilience.agent.daemon", "--state-dir", str(state_dir),
             "--port", "0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    deadline = time.monotonic() + AGENT_START_S
    while True:
        client = agent_answers(state_dir) if (state_dir / AGENT_FILE).exists() else None
        if client is not None:
            return client, process.pid
        if process.poll() is not None or time.monotonic() > deadline:
            stop_tree([process.pid])
            tail = stderr_path.read_text(errors="replace")[-2000:]
            raise LabStartFailed(f"the agent did not start for {state_dir}: {tail}")
        time.sleep(POLL_S)


def _group_members(pid: int) -> list[psutil.Process]:
    """The process and everything in its process group (it leads one: own session)."""
    members = []
    try:
        root = psutil.Process(pid)
        members.append(root)
        members.extend(root.children(recursive=True))
    except psutil.Error:
        pass
    try:
        group = os.getpgid(pid)
    except OSError:
        return members
    known = {m.pid for m in members}
    for proc in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error, OSError):
            if proc.pid not in known and os.getpgid(proc.pid) == group:
                members.append(proc)
    return members


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(os.getpgid(pid), signum)
    except OSError:
        with contextlib.suppress(OSError):
            os.kill(pid, signum)


def _first_signal(process: psutil.Process) -> int:
    with contextlib.suppress(psutil.Error):
        if process.name() == "postgres":
            return signal.SIGINT  # fast shutdown: removes its shared memory
    return signal.SIGTERM


def stop_tree(pids: Iterable[int], grace: float = 2.0, first: int | None = None) -> list[int]:
    """Stop each pid and its process group: a polite signal (or ``first``), SIGKILL after
    ``grace``.

    Returns the pids still present afterwards (an empty list when everything is gone).
    """
    members: dict[int, psutil.Process] = {}
    for pid in pids:
        for member in _group_members(pid):
            members[member.pid] = member
        with contextlib.suppress(psutil.Error):
            _signal_group(pid, first or _first_signal(psutil.Process(pid)))
    alive = wait_gone(list(members.values()), grace)
    for process in alive:
        with contextlib.suppress(psutil.Error, OSError):
            _signal_group(process.pid, signal.SIGKILL)
            process.kill()
    return [p.pid for p in wait_gone(alive, grace)]


def _present(process: psutil.Process) -> bool:
    """Running and not a zombie (a zombie holds no port and waits only for its parent)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_gone(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every process is gone (or a zombie); return those still present."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in processes if _present(p)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(POLL_S)


def check_health(url: str, timeout: float = 0.5) -> bool:
    """``http://…`` answers 2xx, or ``tcp://host:port`` accepts a connection."""
    if url.startswith("tcp://"):
        import socket

        host, _, port = url[len("tcp://") :].rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=timeout):
                return True
        except OSError:
            return False
    try:
        return httpx.get(url, timeout=timeout).is_success
    except httpx.HTTPError:
        return False

"""The agent's watchdog: when the agent dies, even by ``kill -9``, repair what it held.

The agent starts ``python -m ial_resilience.agent.watchdog`` at start-up (:class:`Watchdog`) in
its own session, with the read end of a pipe as its stdin; only the agent holds the write end
(close-on-exec, so no other child inherits it). The watchdog blocks reading it. The kernel
closes the write end when the agent exits, however it exits, so the read returns end-of-file:
then the watchdog waits until the agent process is really gone, and repairs the holdings of
every dead agent of the state dir (:func:`ial_resilience.agent.repair.repair_dead_agents`):
paused processes get SIGCONT, spawned ones are stopped. After a clean exit the agent has
already removed its holdings file, so there is nothing to do.

The watchdog ignores SIGINT and SIGHUP (a terminal's Ctrl-C or hang-up is for the agent), uses
no CPU while it waits, and exits once it has repaired. If the watchdog itself dies while the
agent runs, the agent starts a new one. Why not ``PR_SET_PDEATHSIG`` on the spawned processes:
Linux sends it when the *thread* that forked the child exits, and the agent spawns from a pool
of worker threads that come and go; and it could not resume a paused process it does not own.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from ial_resilience.agent.repair import process_running, repair_dead_agents
from ial_resilience.agent.state import setup_logging
from ial_resilience.errors import IalrError

log = logging.getLogger("ialr.agent")
GONE_WAIT_S = 10.0  # after end-of-file, the agent must be gone within this
POLL_S = 0.005
RESTART_BACKOFF_S = 1.0


def wait_for_end_of_file(fd: int) -> None:
    """Block until every writer of ``fd`` has closed it (the agent exited or died)."""
    while os.read(fd, 4096):
        pass


def wait_gone(pid: int, create_time: float, timeout: float) -> bool:
    """Wait until the process is gone or a zombie; false if it still runs at ``timeout``."""
    deadline = time.monotonic() + timeout
    while process_running(pid, create_time):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)
    return True


def watch(state_dir: Path, agent_pid: int, agent_create_time: float, fd: int = 0) -> int:
    """The watchdog's life: wait for the agent's end, then repair what it left; exit code."""
    wait_for_end_of_file(fd)
    if not wait_gone(agent_pid, agent_create_time, GONE_WAIT_S):
        log.error(
            "watchdog: agent %d closed its pipe but still runs after %g s; its holdings are"
            " left to the next agent or `ialr chaos cleanup`",
            agent_pid,
            GONE_WAIT_S,
        )
        return 1
    for report in repair_dead_agents(state_dir):
        log.warning(
            "watchdog: agent %d died without cleaning up; repaired %d process(es)",
            report.agent_pid,
            len(report.items),
        )
    return 0


class Watchdog:
    """The agent's side: start the watchdog, hold the pipe, start a new one if it dies."""

    def __init__(self, state_dir: Path) -> None:
        self._state_dir = state_dir
        self._me = psutil.Process()
        self._closing = threading.Event()
        self._write_fd = -1
        self._popen: subprocess.Popen[bytes] | None = None
        self._monitor = threading.Thread(target=self._keep_alive, name="watchdog", daemon=True)

    @property
    def pid(self) -> int:
        return self._popen.pid if self._popen is not None else 0

    def start(self) -> None:
        self._spawn()
        self._monitor.start()

    def _spawn(self) -> None:
        read_fd, write_fd = os.pipe()  # both close-on-exec: spawned processes never hold them
        argv = [sys.executable, "-m", "ial_resilience.agent.watchdog",
                "--state-dir", str(self._state_dir), "--agent-pid", str(self._me.pid),
                "--agent-create-time", repr(self._me.create_time())]  # fmt: skip
        try:
            self._popen = subprocess.Popen(
                argv, stdin=read_fd, stdout=subprocess.DEVNULL, start_new_session=True
            )
        except OSError as error:
            os.close(write_fd)
            raise IalrError(
                f"cannot start the agent's watchdog ({sys.executable}): {error.strerror}",
                hint="the agent refuses to run without it: a crash would leave paused processes",
            ) from error
        finally:
            os.close(read_fd)
        previous, self._write_fd = self._write_fd, write_fd
        if previous >= 0:
            os.close(previous)

    def _keep_alive(self) -> None:
        while self._popen is not None:
            started = time.monotonic()
            code = self._popen.wait()
            if self._closing.is_set():
                return
            log.warning("watchdog %d exited (%s); starting a new one", self._popen.pid, code)
            self._closing.wait(max(0.0, RESTART_BACKOFF_S - (time.monotonic() - started)))
            if self._closing.is_set():
                return
            try:
                self._spawn()
            except IalrError as error:
                log.error("%s; trying again", error.message)

    def close(self) -> None:
        """At a clean exit, after the holdings file is gone: the watchdog finds nothing to do
        and exits once this process is gone."""
        self._closing.set()
        if self._write_fd >= 0:
            os.close(self._write_fd)
            self._write_fd = -1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ial_resilience.agent.watchdog")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--agent-pid", type=int, required=True)
    parser.add_argument("--agent-create-time", type=float, required=True)
    args = parser.parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    setup_logging(log, args.state_dir)
    return watch(args.state_dir, args.agent_pid, args.agent_create_time)


if __name__ == "__main__":
    sys.exit(main())

"""The agent's watchdog: when the agent dies, even by ``kill -9``, repair what it held.

The agent starts ``python -m ial_resilience.agent.watchdog`` at start-up
(:class:`ial_resilience.agent.watchdog_handle.Watchdog`) in its own session, with the read end
of a pipe as its stdin; only the agent holds the write end (close-on-exec, so no other child
inherits it). The watchdog blocks reading it. At a clean exit, once it has undone
everything, the agent writes :data:`CLEAN_EXIT` and waits for the watchdog to exit. Otherwise
the kernel closes the write end when the agent dies, however it dies, so the read returns
end-of-file: then the watchdog waits until the agent process is really gone, and repairs the
holdings of every dead agent of the state dir
(:func:`ial_resilience.agent.repair.repair_dead_agents`): paused processes get SIGCONT,
spawned ones are stopped.

Cheap while the agent starts: this module imports only the standard library's basics; the
repair code (psutil, logging) is loaded :data:`WARM_UP_S` after start, or at end-of-file if
that comes first. It ignores SIGINT and SIGHUP (a terminal's Ctrl-C or hang-up is for the
agent), uses no CPU while it waits, and exits once it has repaired.

Why not ``PR_SET_PDEATHSIG`` on the spawned processes instead: Linux sends it when the *thread*
that forked the child exits, and the agent spawns from a pool of worker threads that come and
go; and a parent-death signal cannot resume a paused process the agent did not start.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

WARM_UP_S = 2.0  # load the repair code this long after start (off the agent's start path)
GONE_WAIT_S = 10.0  # after end-of-file, the agent must be gone within this
POLL_S = 0.005
CLEAN_EXIT = b"x"  # the agent writes it once it has undone everything, just before it exits
USAGE = "usage: python -m ial_resilience.agent.watchdog STATE_DIR AGENT_PID AGENT_CREATE_TIME"


def argv_for(state_dir: Path, agent_pid: int, agent_create_time: float) -> list[str]:
    """The command line that starts a watchdog for that agent."""
    return [sys.executable, "-m", "ial_resilience.agent.watchdog", str(state_dir),
            str(agent_pid), repr(agent_create_time)]  # fmt: skip


def wait_for_the_end(fd: int, warm_up: float, on_warm_up: Callable[[], None]) -> bool:
    """Block until the agent says it exits cleanly (:data:`CLEAN_EXIT` on ``fd``: true) or
    every writer of ``fd`` has closed it (it died: false); call ``on_warm_up()`` once after
    ``warm_up`` seconds if that comes first."""
    deadline = time.monotonic() + warm_up
    warmed = False
    while True:
        timeout = None if warmed else max(0.0, deadline - time.monotonic())
        readable, _, _ = select.select([fd], [], [], timeout)
        if readable:
            data = os.read(fd, 4096)
            if not data or CLEAN_EXIT in data:
                return bool(data)
        if not warmed and time.monotonic() >= deadline:
            on_warm_up()
            warmed = True


def _load_repair(state_dir: Path) -> None:
    """Import the repair code and set up logging (to ``agent.log`` and stderr)."""
    import logging

    from ial_resilience.agent import repair
    from ial_resilience.agent.state import setup_logging

    if not repair.log.handlers:
        try:
            setup_logging(repair.log, state_dir)
        except OSError:  # the state dir is gone: stderr only
            repair.log.addHandler(logging.StreamHandler(sys.stderr))
            repair.log.setLevel(logging.INFO)


def wait_gone(pid: int, create_time: float, timeout: float) -> bool:
    """Wait until the process is gone or a zombie; false if it still runs at ``timeout``."""
    from ial_resilience.agent.repair import process_running

    deadline = time.monotonic() + timeout
    while process_running(pid, create_time):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)
    return True


def watch(state_dir: Path, agent_pid: int, agent_create_time: float, fd: int = 0) -> int:
    """The watchdog's life: wait for the agent's end, then repair what it left; exit code."""
    if wait_for_the_end(fd, WARM_UP_S, lambda: _load_repair(state_dir)):
        return 0  # a clean exit: the agent has undone everything itself
    _load_repair(state_dir)
    from ial_resilience.agent.repair import log, repair_dead_agents

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


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        state_dir, agent_pid, agent_create_time = Path(args[0]), int(args[1]), float(args[2])
    except (IndexError, ValueError):
        print(USAGE, file=sys.stderr)
        return 2
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    return watch(state_dir, agent_pid, agent_create_time)


if __name__ == "__main__":
    sys.exit(main())

"""Telling that the agent died (not merely that it did not answer), and saying what that means.

When the local provider connects, it notes which process the agent is: the pid ``agent.json``
names and that process's start time (so a pid the kernel gives to another process later is not
taken for the agent). The engine asks :meth:`AgentProcess.running` a few times a second while
faults are active, so a run whose agent is killed ends at once instead of waiting for its
faults' end; and a call that finds nobody answering is reported as :class:`AgentDied` when the
agent's process is gone. What a dead agent leaves and who repairs it: docs/SAFETY.md, "Faults
always end".
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from ial_resilience.agent.repair import process_running
from ial_resilience.agent.state import read_agent_info
from ial_resilience.errors import AgentUnreachable

EXIT_GRACE_S = 0.2
"""How long a process whose sockets are already closed may take to be seen as exited."""
_POLL_S = 0.01


class AgentDied(AgentUnreachable):
    """The agent's process is gone (killed, crashed): its faults ended with it or are being
    repaired by its watchdog, and nobody can confirm their revert."""


@dataclass(frozen=True, slots=True)
class AgentProcess:
    """The agent's process as the provider found it when it connected."""

    pid: int
    create_time: float

    @classmethod
    def of(cls, state_dir: Path) -> AgentProcess | None:
        """The agent ``agent.json`` names, if that process runs (else None: nothing to watch)."""
        try:
            pid = read_agent_info(state_dir).pid
            return cls(pid, psutil.Process(pid).create_time())
        except (AgentUnreachable, psutil.Error):
            return None

    def running(self) -> bool:
        """Still this very process (same start time), and not a zombie. A process that cannot
        be looked at (another user's) is taken as running: only a sure death ends a run."""
        return process_running(self.pid, self.create_time, unknown=True)

    def gone(self, grace: float = EXIT_GRACE_S) -> bool:
        """True when the process has exited, or does within ``grace`` (a process that was just
        killed closes its sockets a moment before it is seen as exited)."""
        deadline = time.monotonic() + grace
        while self.running():
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_S)
        return True

    def died(self) -> AgentDied:
        return AgentDied(
            f"the agent (pid {self.pid}) died: its links and their faults died with it, and its"
            " watchdog resumes the processes it paused and stops the ones it spawned (a process"
            " a kill fault killed is not started again)",
            hint="start the agent again (`ialr agent run`, or `ialr lab up`), then run"
            " `ialr chaos cleanup`: it repairs what the watchdog could not and marks the run's"
            " pending faults as ended",
        )

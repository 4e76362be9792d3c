"""``ialr chaos cleanup`` for the local provider when its agent is dead.

The agent's faults live in the agent: a dead agent's links (and their toxics) died with it, and
its stress children exit by themselves within 0.2 s (the disk filler removes its file). What a
dead agent leaves broken, the processes it paused or spawned, its watchdog repairs the moment
it dies; :func:`ial_resilience.engine.cleanup.cleanup_all` repeats that repair first, in case
the watchdog died too. So every pending local fault has ended, and cleanup marks it so.

What cannot be done without an agent: start again a process a ``kill`` fault killed (revert
respawns only through the agent), bring the links back (the next agent creates them from the
system file, or the lab does), and anything for an agent that runs but does not answer: it
still holds its faults, so cleanup refuses and says to kill it (its watchdog then repairs).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ial_resilience.agent.repair import running_agent_pid
from ial_resilience.engine.ledger import PendingFault
from ial_resilience.engine.provider import CleanupResult
from ial_resilience.engine.providers.local import LocalProvider
from ial_resilience.errors import AgentUnreachable

ENDED = (
    "ended with the agent, which is not running (its links and stress are gone; what it paused"
    " or spawned was repaired); a killed process was not started again"
)


class AgentGone:
    """Marks every pending local fault as ended with its dead agent."""

    name = "local"

    def cleanup(self, pending: Sequence[PendingFault]) -> list[CleanupResult]:
        return [
            CleanupResult(
                key=item.intent.key,
                run_id=item.intent.run_id,
                fault=str(item.intent.data.get("fault", "")),
                reverted=(),
                already_gone=(item.intent.key,),
                note=ENDED,
            )
            for item in pending
        ]


class AgentHangs(AgentUnreachable):
    """The agent's process runs but its API does not answer: it may still hold faults."""


class LiveAgent:
    """Cleanup through the running agent; one that does not answer → :class:`AgentHangs`."""

    name = "local"

    def __init__(self, state_dir: Path, pid: int) -> None:
        self._state_dir, self._pid = state_dir, pid

    def cleanup(self, pending: Sequence[PendingFault]) -> list[CleanupResult]:
        provider = LocalProvider.from_state_dir(self._state_dir)
        try:
            return provider.cleanup(pending)
        except AgentUnreachable as error:
            raise AgentHangs(
                f"the agent of {self._state_dir} (pid {self._pid}) runs but does not answer"
                f" ({error.message}); it may still hold faults, so nothing was cleaned up",
                hint=f"stop it (kill {self._pid}, or kill -9 {self._pid} if it hangs): its"
                " watchdog then resumes what it paused and stops what it spawned; then run"
                " `ialr chaos cleanup` again",
            ) from error
        finally:
            provider.close()


def local_cleaner(state_dir: Path) -> LiveAgent | AgentGone:
    """Cleanup through the agent of ``state_dir``, or :class:`AgentGone` when none runs."""
    pid = running_agent_pid(state_dir)
    return AgentGone() if pid is None else LiveAgent(state_dir, pid)

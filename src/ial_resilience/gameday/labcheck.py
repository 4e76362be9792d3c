"""Between two experiments the lab must be whole again: no fault left, every replica in.

A fault left active on the agent, a replica paused, dead or out of the load balancer's
rotation would make the next experiment judge a lab the previous one broke (and can snowball
into a "collapse" where every request waits for a target that never answers). ``verify_lab``
reverts any leftover fault (the run that owned it is over), then waits until every replica
the supervisor runs is alive, registered and healthy. It never decides pass/fail: the report
records what it found so a reader can see the lab was whole (or not) when a run started.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ial_resilience.agent.client import AgentClient
from ial_resilience.errors import IalrError
from ial_resilience.gameday.traffic import control_json

WHOLE_WITHIN_S = 20.0
POLL_S = 0.2


@dataclass(frozen=True)
class LabCheck:
    whole: bool
    waited_s: float
    leftover_faults: tuple[str, ...]
    problems: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {**data, "leftover_faults": list(self.leftover_faults),
                "problems": list(self.problems)}  # fmt: skip


def revert_leftovers(state_dir: Path) -> tuple[str, ...]:
    """Revert every fault still active on the agent; ``kind@id`` of each one reverted."""
    reverted: list[str] = []
    with contextlib.suppress(IalrError):
        client = AgentClient.from_state_dir(state_dir)
        try:
            for fault in client.faults():
                if fault.get("state") == "active":
                    with contextlib.suppress(IalrError):
                        client.revert_fault(str(fault["id"]))
                        reverted.append(f"{fault.get('kind')}@{fault['id']}")
        finally:
            client.close()
    return tuple(reverted)


def fleet_problems(control: str | None) -> tuple[str, ...]:
    """What keeps the fleet from being whole right now; () when it is.

    A system without a control plane (a user's system file, which exports no ``control``)
    has no fleet to check: () at once, rather than waiting for an answer that never comes.
    """
    if control is None:
        return ()
    supervisor = control_json(control, "/v1/supervisor")
    targets = control_json(control, "/v1/lb/targets")
    if supervisor is None or targets is None:
        return ("the control plane does not answer",)
    states = {str(t.get("name")): str(t.get("state")) for t in targets.get("targets", [])}
    problems: list[str] = []
    for replica in supervisor.get("replicas", []):
        name = str(replica.get("name"))
        if not replica.get("alive", False):
            problems.append(f"{name} is not running")
        elif name not in states:
            problems.append(f"{name} is not registered in the load balancer")
        elif states[name] != "healthy":
            problems.append(f"{name} is {states[name]} in the load balancer")
    return tuple(problems)


def verify_lab(state_dir: Path, control: str | None, within: float = WHOLE_WITHIN_S) -> LabCheck:
    """Revert leftovers, then wait (at most ``within`` s) until the fleet is whole."""
    began = time.monotonic()
    leftovers = revert_leftovers(state_dir)
    problems = fleet_problems(control)
    while problems and time.monotonic() - began < within:
        time.sleep(POLL_S)
        problems = fleet_problems(control)
    return LabCheck(not problems, round(time.monotonic() - began, 2), leftovers, problems)

"""``ialr agent run --system FILE``: create what a system file declares, at agent start.

Links are created, processes spawned (a process with ``replicas: N > 1`` becomes ``NAME-1`` …
``NAME-N``), then the declared faults are applied as one atomic set. Any problem stops the
start; the daemon then reverts whatever was already created.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ial_resilience.agent.models import FaultRequest, LinkRequest, SpawnRequest
from ial_resilience.agent.service import Agent
from ial_resilience.spec import load_system
from ial_resilience.spec.system import ProcessSpec

log = logging.getLogger("ialr.agent")


def process_names(name: str, spec: ProcessSpec) -> list[str]:
    """The registered names of a declared process: ``NAME``, or ``NAME-1`` … ``NAME-N``."""
    if spec.replicas == 1:
        return [name]
    return [f"{name}-{index}" for index in range(1, spec.replicas + 1)]


def apply_system(agent: Agent, path: Path) -> None:
    """Load ``path`` (:class:`SpecError` on any problem) and create its links, processes, faults."""
    system = load_system(path)
    for name, link in system.links.items():
        request = LinkRequest(
            name=name, listen=str(link.listen), upstream=str(link.upstream), http=link.http
        )
        snapshot = agent.create_link(request)
        log.info(
            "system %s: link %s %s -> %s", system.name, name, snapshot["listen"], link.upstream
        )
    for name, spec in system.processes.items():
        if spec.managed:  # started per replica by the lab's control plane, not by the agent
            continue
        for replica in process_names(name, spec):
            spawn = SpawnRequest(
                name=replica, argv=list(spec.command), env=dict(spec.env), cwd=spec.cwd
            )
            process = agent.add_process(spawn)
            log.info("system %s: process %s pid %s", system.name, replica, process["pid"])
    if system.faults:
        requests = [FaultRequest.model_validate(fault.to_request()) for fault in system.faults]
        applied = agent.faults.apply(requests)
        log.info("system %s: applied %d declared fault(s)", system.name, len(applied))

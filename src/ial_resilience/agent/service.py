"""The agent's domain in one object: links, processes and the fault registry.

No HTTP here (that is :mod:`ial_resilience.agent.api`) and no process lifecycle (that is
:mod:`ial_resilience.agent.daemon`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ial_resilience.agent.injector import Injector
from ial_resilience.agent.metrics import AgentMetrics
from ial_resilience.agent.models import (
    AdoptRequest,
    FaultRequest,
    LinkRequest,
    LinkTarget,
    SpawnRequest,
)
from ial_resilience.agent.network import LinkTable
from ial_resilience.agent.processes import ProcessTable
from ial_resilience.agent.registry import FaultRecord, FaultRegistry


class Agent:
    """Everything the agent owns. Call :meth:`start` once and :meth:`shutdown` at exit."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.links = LinkTable()
        self.processes = ProcessTable(state_dir / "logs")
        self.metrics = AgentMetrics(self.links.snapshots, lambda: self.faults.active_count())
        self.faults = FaultRegistry(self, events=self.metrics)

    def start(self) -> None:
        self.faults.start()

    # Targets protocol for the registry
    def toxic_injector(self, link: str, request: FaultRequest, fault_id: str) -> Injector:
        return self.links.toxic_injector(link, request, fault_id)

    def create_link(self, request: LinkRequest) -> dict[str, Any]:
        return self.links.create(request)

    def delete_link(self, name: str) -> None:
        """Revert the link's active faults, then stop and forget the link."""
        self.links.get(name)

        def on_link(record: FaultRecord) -> bool:
            target = record.request.target
            return isinstance(target, LinkTarget) and target.link == name

        self.faults.revert_matching(on_link)
        self.links.delete(name)

    def add_process(self, request: SpawnRequest | AdoptRequest) -> dict[str, Any]:
        if isinstance(request, SpawnRequest):
            process = self.processes.spawn(request.name, request.argv, request.env, request.cwd)
        else:
            process = self.processes.adopt(request.name, request.pid)
        return self.processes.snapshot(process)

    def respawn_process(self, name: str) -> dict[str, Any]:
        """Start a dead spawned process again (the lab's supervisor); FaultRejected if alive."""
        process = self.processes.get(name)
        self.processes.respawn(process)
        return self.processes.snapshot(process)

    def remove_process(self, name: str) -> dict[str, Any]:
        """Revert the process's active faults, stop it (if spawned) and forget it."""
        self.processes.get(name)

        def on_process(record: FaultRecord) -> bool:
            target = record.request.target
            return getattr(target, "process", None) == name

        self.faults.revert_matching(on_process)
        return self.processes.remove(name)

    def status(self) -> dict[str, Any]:
        return {
            "links": self.links.snapshots(),
            "faults": self.faults.all_faults(),
            "processes": self.processes.snapshots(),
        }

    def shutdown(self) -> list[dict[str, Any]]:
        """Revert every fault, stop every link and every spawned process."""
        reverted = self.faults.close()
        self.links.stop_all()
        self.processes.stop_spawned()
        return reverted

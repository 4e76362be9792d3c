"""The agent's domain in one object: links, processes and the fault registry.

No HTTP here (that is :mod:`ial_resilience.agent.api`) and no process lifecycle (that is
:mod:`ial_resilience.agent.daemon`). What a crash of the agent would leave broken (processes
it paused or spawned) is kept in its holdings file, ``held/agent-<pid>.json``, from
:meth:`Agent.start` until a clean :meth:`Agent.shutdown` removes it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psutil

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
from ial_resilience.agent.state import HeldProcess, Holdings, remove_holdings, write_holdings


class Agent:
    """Everything the agent owns. Call :meth:`start` once and :meth:`shutdown` at exit."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._pid = os.getpid()
        self._create_time = psutil.Process(self._pid).create_time()
        self.links = LinkTable()
        self.processes = ProcessTable(state_dir / "logs", on_change=self._record_holdings)
        self.metrics = AgentMetrics(self.links.snapshots, lambda: self.faults.active_count())
        self.faults = FaultRegistry(self, events=self.metrics)

    def start(self) -> None:
        self._record_holdings(())
        self.faults.start()

    def _record_holdings(self, processes: tuple[HeldProcess, ...]) -> None:
        write_holdings(self.state_dir, Holdings(self._pid, self._create_time, processes))

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
        """Revert every fault, stop every link and every spawned process; then nothing is held."""
        reverted = self.faults.close()
        self.links.stop_all()
        self.processes.stop_spawned()
        remove_holdings(self.state_dir, self._pid)
        return reverted

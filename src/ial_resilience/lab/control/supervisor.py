"""The lab's supervisor (ECS service scheduler): replicas started through the agent, dead ones
restarted with exponential backoff, every restart recorded.

Replicas are agent-spawned processes ``api-1`` … ``api-N``, each reached by the LB through its
own ``lb->api-N`` link. A dead replica is taken out of the LB at once, started again by the
agent (``POST /v1/processes/NAME/respawn``: the agent's registry then holds the new pid, so a
later ``process.kill`` hits the live process) and registered again; it serves traffic once its
health checks pass. Backoff starts at 0.25 s, doubles per restart up to 5 s, and resets after
10 s alive. Each restart is also counted into the lab's telemetry store as ``service.restarts``
{service, replica} (value 1; ECS: a task that stopped and was replaced), which the lab's alert
rules read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from ial_resilience.agent.client import AgentClient
from ial_resilience.errors import IalrError
from ial_resilience.lab.control.fleet import FleetConfig
from ial_resilience.lab.control.lb import LoadBalancer
from ial_resilience.lab.ports import free_port
from ial_resilience.observability import metrics

log = logging.getLogger("ialr.lab.supervisor")
BACKOFF_START_S = 0.25
BACKOFF_MAX_S = 5.0
STABLE_S = 10.0
POLL_S = 0.2


@dataclass
class Replica:
    name: str
    index: int
    port: int
    link: str
    address: str = ""
    pid: int = 0
    alive: bool = True
    restarts: list[float] = field(default_factory=list)
    backoff: float = BACKOFF_START_S
    next_attempt: float = 0.0
    alive_since: float = field(default_factory=time.monotonic)
    version: str = ""

    def snapshot(self) -> dict[str, Any]:
        return {
            "name": self.name, "pid": self.pid, "alive": self.alive, "port": self.port,
            "link": self.link, "address": self.address, "restarts": len(self.restarts),
            "restart_times": list(self.restarts), "version": self.version,
        }  # fmt: skip


class Supervisor:
    def __init__(self, config: FleetConfig, agent: AgentClient, lb: LoadBalancer) -> None:
        self.config, self._agent, self._lb = config, agent, lb
        self.replicas: dict[str, Replica] = {}
        self.lock = asyncio.Lock()
        # the version new replicas start with (`ialr deploy` sets it): name and env
        self.version: tuple[str, dict[str, str]] = ("", {})

    def _next_index(self) -> int:
        used = {r.index for r in self.replicas.values()}
        return next(i for i in range(1, 1000) if i not in used)

    async def add(
        self, index: int | None = None, version: tuple[str, dict[str, str]] | None = None
    ) -> Replica:
        """Start one more replica and register it at the LB (call with ``lock`` held)."""
        index = self._next_index() if index is None else index
        version_name, version_env = self.version if version is None else version
        name, port = f"{self.config.service}-{index}", free_port()
        replica = Replica(name, index, port, f"lb->{name}", version=version_name)
        process = await asyncio.to_thread(
            self._agent.add_process, name, self.config.argv(name, port),
            None, {**self.config.replica_env(name, port), **version_env},
        )  # fmt: skip
        replica.pid = int(process["pid"])
        link = await asyncio.to_thread(
            self._agent.create_link, replica.link, "127.0.0.1:0", f"127.0.0.1:{port}", True
        )
        replica.address = str(link["listen"])
        self.replicas[name] = replica
        self._lb.register(name, replica.address)
        log.info("replica %s pid %s behind %s", name, replica.pid, replica.address)
        return replica

    async def remove(self, name: str) -> None:
        """Take a replica out of the LB, delete its link and stop it (``lock`` held)."""
        replica = self.replicas.pop(name)
        self._lb.deregister(name)
        for call, arg in (
            (self._agent.delete_link, replica.link),
            (self._agent.remove_process, name),
        ):
            try:
                await asyncio.to_thread(call, arg)
            except IalrError as error:
                log.warning("removing %s: %s", name, error)

    async def redeploy(self, name: str, version: str, env: dict[str, str]) -> Replica:
        """Replace replica ``name`` by one of ``version`` (same name; ``lock`` held): the old
        one leaves the LB and stops, the new one is registered and serves once healthy."""
        if name not in self.replicas:
            raise KeyError(f"no replica named {name!r}")
        index = self.replicas[name].index
        await self.remove(name)
        replica = await self.add(index, (version, env))
        log.info("replica %s now runs version %s", name, version)
        return replica

    async def run(self) -> None:
        while True:
            try:
                await self._tick()
            except IalrError as error:
                log.warning("supervisor: %s", error)
            await asyncio.sleep(POLL_S)

    async def _tick(self) -> None:
        processes = {p["name"]: p for p in await asyncio.to_thread(self._agent.processes)}
        async with self.lock:
            for replica in list(self.replicas.values()):
                info = processes.get(replica.name)
                if info is None:
                    continue
                await self._watch(replica, bool(info["alive"]), int(info["pid"]))

    async def _watch(self, replica: Replica, alive: bool, pid: int) -> None:
        now = time.monotonic()
        if alive:
            if not replica.alive:
                replica.alive, replica.alive_since = True, now
                self._lb.register(replica.name, replica.address)
            replica.pid = pid
            if now - replica.alive_since > STABLE_S:
                replica.backoff = BACKOFF_START_S
            return
        if replica.alive:
            replica.alive = False
            replica.next_attempt = now + replica.backoff
            self._lb.deregister(replica.name)
            log.info(
                "replica %s (pid %s) died; restart in %.2fs", replica.name, pid, replica.backoff
            )
        if now < replica.next_attempt:
            return
        try:
            process = await asyncio.to_thread(self._agent.respawn_process, replica.name)
        except IalrError as error:  # e.g. the agent restarted it first (kill fault reverted)
            log.info("restart of %s not done: %s", replica.name, error)
            replica.next_attempt = now + replica.backoff
            return
        replica.pid = int(process["pid"])
        replica.restarts.append(time.time())
        metrics.count("service.restarts", 1.0, service=self.config.service, replica=replica.name)
        replica.backoff = min(replica.backoff * 2, BACKOFF_MAX_S)
        replica.alive, replica.alive_since = True, now
        self._lb.register(replica.name, replica.address)
        log.info("restarted %s as pid %s", replica.name, replica.pid)

    def status(self) -> dict[str, Any]:
        replicas = [r.snapshot() for r in self.replicas.values()]
        return {"replicas": replicas, "restarts_total": sum(r["restarts"] for r in replicas)}

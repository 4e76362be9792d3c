"""The control plane writes the infrastructure metrics the lab's alert rules read: target
states and replica counts (sampled), restarts (supervisor) and failovers (DB endpoint), into a
real telemetry store. The agent and PostgreSQL are stood in for: they are not what is tested."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ial_resilience.agent.client import AgentClient
from ial_resilience.lab.control.app import ControlPlane
from ial_resilience.lab.control.database import DatabaseEndpoint
from ial_resilience.lab.control.fleet import FleetConfig
from ial_resilience.lab.control.lb import LoadBalancer, TargetState
from ial_resilience.lab.control.supervisor import Replica, Supervisor
from ial_resilience.observability import setup_metrics
from ial_resilience.observability.metrics import shutdown_metrics
from ial_resilience.observability.store import TelemetryStore

CONFIG = FleetConfig(
    service="api", command=("true",), db_primary="db-primary", db_primary_address="127.0.0.1:1",
    db_replica="db-replica", db_replica_address="127.0.0.1:2",
)  # fmt: skip


class Agent:
    """The agent calls the supervisor and the DB endpoint make, answered in memory."""

    def respawn_process(self, name: str) -> dict[str, Any]:
        return {"name": name, "pid": 4242}

    def processes(self) -> list[dict[str, Any]]:
        return []

    def update_link(self, name: str, upstream: str) -> dict[str, Any]:
        return {"name": name, "upstream": upstream}

    def reset_link(self, name: str) -> int:
        return 3


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "telemetry.db"
    setup_metrics(sinks=("store",), store=path)
    yield path
    shutdown_metrics()


def _points(path: Path, name: str) -> list[tuple[dict[str, str], float]]:
    shutdown_metrics()  # flushes the batch writer
    store = TelemetryStore(path, create=False)
    series = store.points(name, {}, time.time() - 60, time.time() + 60)
    store.close()
    return [(s.labels, v) for s in series for v in s.values]


def test_the_control_plane_samples_target_states_and_replica_counts(store: Path) -> None:
    plane = ControlPlane(CONFIG, AgentClient("http://127.0.0.1:9", "t"))
    for name in ("api-1", "api-2", "api-3"):
        plane.lb.register(name, "127.0.0.1:9")
    plane.lb._targets["api-1"].state = TargetState.HEALTHY
    plane.lb._targets["api-2"].state = TargetState.UNHEALTHY
    plane.autoscaler.desired = 3
    plane.record_gauges()
    targets = {labels["state"]: value for labels, value in _points(store, "lb.targets")}
    assert targets == {"healthy": 1.0, "unhealthy": 1.0, "initial": 1.0}
    assert _points(store, "service.replicas.desired") == [({"service": "api"}, 3.0)]
    asyncio.run(plane.lb.close())


def test_a_restart_by_the_supervisor_is_counted_per_replica(store: Path) -> None:
    supervisor = Supervisor(CONFIG, Agent(), LoadBalancer())  # type: ignore[arg-type]
    replica = Replica("api-2", 2, 9, "lb->api-2", address="127.0.0.1:9", pid=11)
    asyncio.run(supervisor._watch(replica, False, 11))  # seen dead: restart after the backoff
    assert not replica.restarts
    replica.next_attempt = 0.0
    asyncio.run(supervisor._watch(replica, False, 11))
    assert replica.pid == 4242 and len(replica.restarts) == 1
    assert _points(store, "service.restarts") == [({"service": "api", "replica": "api-2"}, 1.0)]


def test_a_failover_is_counted_with_the_old_and_new_writer(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = DatabaseEndpoint(CONFIG, Agent())  # type: ignore[arg-type]
    monkeypatch.setattr(endpoint, "_fence", lambda process: True)  # no signals sent
    monkeypatch.setattr(DatabaseEndpoint, "_promote", staticmethod(lambda address: "0/3000060"))
    assert endpoint.failover()["new_writer"] == "db-replica"
    labels = {"service": "db", "old_writer": "db-primary", "new_writer": "db-replica"}
    assert _points(store, "db.failovers") == [(labels, 1.0)]


def test_without_a_store_nothing_is_written_and_nothing_breaks() -> None:
    shutdown_metrics()
    plane = ControlPlane(CONFIG, AgentClient("http://127.0.0.1:9", "t"))
    plane.record_gauges()  # no sink: a no-op
    assert plane.lb.state_counts() == dict.fromkeys(TargetState, 0)
    asyncio.run(plane.lb.close())

"""The bundled system file and the plan: ports chosen, references filled, checks."""

from __future__ import annotations

import sys
from pathlib import Path

from ial_resilience.lab.model import LabInfo, PartInfo
from ial_resilience.lab.plan import BUNDLED, _cycle, load_plan


def test_the_bundled_lab_loads_with_every_port_and_link_address_decided(tmp_path: Path) -> None:
    plan = load_plan(None, tmp_path)
    assert plan.path == BUNDLED
    assert set(plan.ports) == {"lb", "control", "payments", "db-primary", "db-replica"}
    assert all(port > 0 for port in plan.ports.values())
    assert set(plan.link_listen) == {"client->lb", "api->db", "api->payments",
                                     "db-replica->db-primary"}  # fmt: skip
    system = plan.system
    assert str(system.links["api->db"].upstream) == f"127.0.0.1:{plan.ports['db-primary']}"
    assert system.exports["lb"] == f"http://{plan.link_listen['client->lb']}"
    assert (
        system.exports["db_dsn"] == f"postgresql://postgres@{plan.link_listen['api->db']}/postgres"
    )
    assert list(plan.managed()) == ["api"]
    assert set(plan.started()) == {"db-primary", "db-replica", "payments", "control"}
    api = plan.managed()["api"]
    assert (api.min_replicas, api.max_replicas) == (2, 4)
    assert "${port}" in api.command and "${name}" in api.command  # filled per replica
    assert plan.system.processes["control"].command[0] == sys.executable
    replica = plan.system.processes["db-replica"].command
    assert replica[replica.index("--source") + 1] == plan.link_listen["db-replica->db-primary"]


def test_two_plans_get_different_ports(tmp_path: Path) -> None:
    first, second = load_plan(None, tmp_path), load_plan(None, tmp_path)
    assert first.ports != second.ports


def test_cycles_are_found_and_spelled_out() -> None:
    assert _cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert _cycle({"a": ["b"], "b": [], "c": ["a"]}) == []
    assert _cycle({"a": ["a"]}) == ["a", "a"]


def test_lab_info_round_trips_and_gives_experiment_variables() -> None:
    info = LabInfo(
        name="lab", system="s.yaml", state_dir="/s", agent_url="http://127.0.0.1:1",
        agent_pid=10, agent_started=True, exports={"lb": "http://127.0.0.1:2"},
        links={"api->db": {"listen": "127.0.0.1:3", "upstream": "127.0.0.1:4", "http": False}},
        parts={"api": PartInfo("api", 0, "", managed=True)}, started_at=1.0, up_seconds=2.0,
        link_names=("api->db",),
    )  # fmt: skip
    data = info.to_json()
    assert data["variables"] == {"links.api->db": "127.0.0.1:3", "lb": "http://127.0.0.1:2"}
    assert LabInfo.from_json(data) == info


def test_failover_client_waits_longer_than_the_control_planes_worst_case() -> None:
    """The provider must not give up on a failover the control plane is still finishing
    (fence with SIGINT then SIGKILL, each with a grace, then promotion retried to a deadline)."""
    from ial_resilience.lab.control.database import FENCE_GRACE_S, PROMOTE_DEADLINE_S
    from ial_resilience.lab.faults import CONTROL_TIMEOUT_S

    assert CONTROL_TIMEOUT_S > 2 * FENCE_GRACE_S + PROMOTE_DEADLINE_S

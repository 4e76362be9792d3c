"""The bundled lab under faults: one lab for the module (session fixture), real processes.

The failover test changes the lab for good (the replica becomes the writer): it runs last.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest

from ial_resilience.engine.model import PlannedFault
from ial_resilience.engine.providers.local import LocalProvider
from ial_resilience.spec import load_experiment
from tests.lab_fixtures import RunningLab, lab, wait_for  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(180)]

EXPERIMENT = """\
version: 1
title: lab fault {fault}
targets:
  t: {target}
steady_state:
  - probe: {{http: {{url: "http://127.0.0.1:9/"}}}}
    tolerance: {{success_rate: ">= 0"}}
method:
  - fault: {fault}
    target: t
    duration: 60s
{params}
"""


def planned(
    tmp_path: Path, fault: str, target: str, params: str = ""
) -> tuple[PlannedFault, object]:
    path = tmp_path / f"{fault}.yaml"
    path.write_text(EXPERIMENT.format(fault=fault, target=target, params=params))
    experiment = load_experiment(path)
    step = experiment.method[0]
    fault_plan = PlannedFault(
        index=0, key=f"t-{fault.replace('.', '-')}", fault=step.fault, target="t",
        target_detail="", params=step.params.model_dump(), after=0.0, duration=step.duration,
        params_model=step.params,
    )  # fmt: skip
    return fault_plan, experiment


@contextmanager
def provider_on(lab: RunningLab, experiment: object) -> Iterator[LocalProvider]:  # noqa: F811
    provider = LocalProvider.from_state_dir(lab.state_dir)
    try:
        provider.resolve_targets(experiment)
        provider.check_ready()
        yield provider
    finally:
        provider.close()


def replica_metric(lab: RunningLab, name: str, metric: str) -> float | None:  # noqa: F811
    replicas = {r["name"]: r for r in lab.control("GET", "/v1/supervisor")["replicas"]}
    port = replicas[name]["port"]
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    match = re.search(rf"^{re.escape(metric)}(?:{{[^}}]*}})? ([0-9.e+-]+)$", text, re.M)
    return float(match.group(1)) if match else None


def order(lab: RunningLab) -> httpx.Response:  # noqa: F811
    return httpx.post(f"{lab.exports['lb']}/orders", json={"item": "w", "amount": 2}, timeout=10)


def _accepts(dsn: str) -> bool:
    try:
        psycopg.connect(dsn, connect_timeout=2).close()
    except psycopg.OperationalError as error:
        if "starting up" in str(error):
            return False
        raise
    return True


def test_orders_flow_through_the_lb_to_postgres_and_both_replicas(lab: RunningLab) -> None:  # noqa: F811
    created = order(lab)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "paid"
    replicas = {
        httpx.get(f"{lab.exports['lb']}/orders", timeout=10).json()["replica"] for _ in range(4)
    }
    assert replicas == {"api-1", "api-2"}
    with psycopg.connect(lab.exports["db_primary_dsn"]) as conn:
        row = conn.execute(
            "SELECT status FROM orders WHERE id = %s", (created.json()["id"],)
        ).fetchone()
    assert row == ("paid",)
    # the replica's health check is TCP: it may still be reaching a consistent state
    wait_for(lambda: _accepts(lab.exports["db_replica_dsn"]), 30, "the replica to accept")
    with psycopg.connect(lab.exports["db_replica_dsn"]) as conn:  # streaming replica follows
        wait_for(
            lambda: conn.execute("SELECT count(*) FROM orders WHERE id = %s",
                                 (created.json()["id"],)).fetchone() == (1,),
            10, "the order on the streaming replica",
        )  # fmt: skip
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)


def test_a_killed_replica_is_restarted_and_registered_again(lab: RunningLab) -> None:  # noqa: F811
    before = {r["name"]: r for r in lab.control("GET", "/v1/supervisor")["replicas"]}["api-1"]
    [fault] = lab.agent.apply_faults([{"id": "kill-api-1", "kind": "kill",
                                       "target": {"process": "api-1"},
                                       "params": {"respawn_on_revert": False},
                                       "duration_ms": 30_000}])  # fmt: skip
    assert fault["evidence"]["pid"] == before["pid"]

    def restarted() -> dict[str, object] | None:
        replicas = {r["name"]: r for r in lab.control("GET", "/v1/supervisor")["replicas"]}
        now = replicas["api-1"]
        return now if now["restarts"] > before["restarts"] and now["pid"] != before["pid"] else None

    after = wait_for(restarted, 20, "the supervisor to restart api-1")
    agent_pid = {p["name"]: p["pid"] for p in lab.agent.processes()}["api-1"]
    assert agent_pid == after["pid"]  # the agent's registry holds the new pid
    wait_for(lambda: lab.targets().get("api-1") == "healthy", 20, "api-1 healthy at the LB")
    events = [e["event"] for e in lab.control("GET", "/v1/lb/targets")["events"]
              if e["target"] == "api-1" and e["at"] >= fault["applied_at"]]  # fmt: skip
    first_out = events.index("deregistered")  # by the supervisor or by failed checks
    back_in = events.index("registered", first_out)
    assert "healthy" in events[back_in:], events
    lab.agent.revert_fault("kill-api-1")


def test_lb_deregisters_a_replica_whose_health_check_fails(
    lab: RunningLab,  # noqa: F811
    tmp_path: Path,
) -> None:
    fault, experiment = planned(tmp_path, "lb.health-check-fail", "{service: api, replicas: 1}")
    with provider_on(lab, experiment) as provider:
        applied = provider.apply(fault)
        evidence = wait_for(lambda: (e := provider.verify(applied)).landed and e, 15,
                            "the LB to deregister the replica")  # fmt: skip
        lb = evidence.details["lb"]
        assert lb["deregistered"] == ["api-1"] and lb["seconds_to_deregister"] >= 0
        assert lab.targets()["api-1"] == "unhealthy"
        served = {
            httpx.get(f"{lab.exports['lb']}/orders", timeout=10).json()["replica"] for _ in range(4)
        }
        assert served == {"api-2"}  # the unhealthy target gets no traffic
        final = provider.revert(applied)
        assert final.landed and final.details["agent_faults"][0]["requests_aborted"] >= 2
    wait_for(lambda: lab.targets()["api-1"] == "healthy", 15, "api-1 healthy again")


def test_payments_outage_keeps_orders_pending_and_the_breaker_opens_then_closes(
    lab: RunningLab,  # noqa: F811
) -> None:
    lab_payments = lab.exports["payments"]
    httpx.post(f"{lab_payments}/control", json={"error_rate": 1.0}, timeout=5).raise_for_status()
    try:
        statuses = set()
        for _ in range(14):  # 5 failed calls per replica open its breaker
            response = order(lab)
            assert response.status_code == 201, response.text
            statuses.add(response.json()["status"])
        assert statuses == {"payment_pending"}
        for name in ("api-1", "api-2"):
            assert replica_metric(lab, name, "lab_api_breaker_state") == 2.0
            assert (replica_metric(lab, name, "lab_api_payments_total") or 0) > 0
        fast = order(lab).json()
        assert fast["payment"] == "breaker_open"
    finally:
        httpx.post(f"{lab_payments}/control", json={"error_rate": 0.0}, timeout=5)

    def closed() -> bool:
        order(lab)
        return all(
            replica_metric(lab, n, "lab_api_breaker_state") == 0.0 for n in ("api-1", "api-2")
        )

    wait_for(closed, 20, "both breakers to close after payments recovered", every=0.3)
    assert order(lab).json()["status"] == "paid"


@contextmanager
def load(url: str, every: float = 0.02) -> Iterator[None]:
    stop = threading.Event()

    def run() -> None:
        with httpx.Client(timeout=5) as client:
            while not stop.wait(every):
                with contextlib.suppress(httpx.HTTPError):
                    client.get(url)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)


def test_capacity_limit_caps_the_autoscaler(lab: RunningLab, tmp_path: Path) -> None:  # noqa: F811
    fault, experiment = planned(tmp_path, "scaling.capacity-limit", "{service: api}",
                                "    with: {limit: 2}")  # fmt: skip
    lab.control("POST", "/v1/autoscaler/config", {"target_rps": 2})
    try:
        with provider_on(lab, experiment) as provider, load(f"{lab.exports['lb']}/health"):
            applied = provider.apply(fault)
            evidence = wait_for(lambda: (e := provider.verify(applied)).landed and e, 20,
                                "a refused scale-up")  # fmt: skip
            assert evidence.details["scale_ups_refused"] >= 1
            assert lab.control("GET", "/v1/autoscaler")["replicas"] == 2
            reverted = provider.revert(applied)
            assert reverted.details["lifted_at"] is not None
            wait_for(lambda: lab.control("GET", "/v1/autoscaler")["replicas"] >= 3, 20,
                     "a scale-out once the limit is lifted")  # fmt: skip
    finally:
        lab.control("POST", "/v1/autoscaler/config", {"target_rps": 40})
    wait_for(lambda: lab.targets().get("api-3") == "healthy", 20, "api-3 healthy at the LB")


def test_failover_promotes_the_replica_and_writes_follow_the_endpoint(
    lab: RunningLab,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Runs last: the lab keeps the promoted writer."""
    db_endpoint = lab.variables()["links.api->db"]
    fault, experiment = planned(tmp_path, "db.failover", "{database: db}")
    with provider_on(lab, experiment) as provider:
        applied = provider.apply(fault)
        evidence = provider.verify(applied)
        assert evidence.landed
        details = evidence.details
        assert re.fullmatch(r"[0-9A-F]+/[0-9A-F]+", details["promotion_lsn"])
        assert details["old_writer_stopped"] is True
        replica_address = lab.exports["db_replica_dsn"].rsplit("@", 1)[1].split("/")[0]
        assert details["endpoint"] == {"link": "api->db", "from": details["endpoint"]["from"],
                                       "to": replica_address}  # fmt: skip
        wait_for(lambda: order(lab).status_code == 201, 20, "writes through the endpoint")
        reverted = provider.revert(applied)
        assert reverted.details["reverted"] is False and "one-way" in reverted.details["note"]
    created = order(lab).json()
    with psycopg.connect(lab.exports["db_replica_dsn"]) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
        row = conn.execute("SELECT status FROM orders WHERE id = %s", (created["id"],)).fetchone()
    assert row == ("paid",)
    assert lab.variables()["links.api->db"] == db_endpoint  # same address for the replicas


def test_the_library_validates_against_the_running_lab(
    lab: RunningLab,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    from ial_resilience.cli.main import main
    from ial_resilience.gameday.runner import library_dir

    suites = [str(library_dir() / name) for name in ("suite.yaml", "quick-suite.yaml")]
    code = main(["chaos", "validate", "--lab", "--state-dir", str(lab.state_dir), *suites])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.count("OK ") == 2 and "unknown variable" not in out

"""System files: links, processes, declared faults, and their line-accurate problems."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ial_resilience.errors import Problem, SpecError
from ial_resilience.spec import TargetKind, load_experiment, load_system

SYSTEM = """\
version: 1
name: shop
links:
  api->db: {listen: "127.0.0.1:0", upstream: "127.0.0.1:5432"}
  web: {listen: "127.0.0.1:18080", upstream: "127.0.0.1:8081", http: true}
processes:
  api:
    command: python3 -m http.server 8081
    env: {PORT: 8081, DEBUG: true}
    health: http://127.0.0.1:8081/
faults:
  - kind: network.latency
    target: {link: api->db}
    params: {latency: 200ms, jitter: 10ms}
    duration: 1m
    direction: downstream
  - {id: k1, kind: process.kill, target: {process: api}, duration: 5s}
  - {kind: resource.cpu, target: {host: true}, params: {workers: 1, load: 50}, duration: 2s}
"""


def write(tmp_path: Path, text: str, name: str = "system.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> list[Problem]:
    with pytest.raises(SpecError) as caught:
        load_system(write(tmp_path, text), environ={})
    return caught.value.problems


def test_system_loads_and_declared_faults_become_agent_requests(tmp_path: Path) -> None:
    system = load_system(write(tmp_path, SYSTEM), environ={})
    assert system.links["api->db"].listen.as_tuple() == ("127.0.0.1", 0)
    assert system.links["web"].http is True
    api = system.processes["api"]
    assert api.command == ("python3", "-m", "http.server", "8081")
    assert api.env == {"PORT": "8081", "DEBUG": "true"} and api.replicas == 1
    latency, kill, cpu = system.faults
    assert latency.target.kind is TargetKind.LINK
    assert latency.to_request() == {
        "kind": "latency",
        "target": {"link": "api->db"},
        "params": {"latency_ms": 200.0, "jitter_ms": 10.0},
        "direction": "downstream",
        "toxicity": 1.0,
        "duration_ms": 60000,
    }
    assert kill.to_request()["params"] == {"signal": "SIGKILL"}
    assert kill.to_request()["id"] == "k1"
    assert cpu.to_request()["target"] == {"host": True}
    assert cpu.to_request()["params"] == {"workers": 1, "load": 50}


def test_link_whose_upstream_is_itself(tmp_path: Path) -> None:
    text = SYSTEM.replace('upstream: "127.0.0.1:8081"', 'upstream: "127.0.0.1:18080"')
    (problem,) = problems_of(tmp_path, text)
    assert (problem.line, problem.column, problem.key) == (5, 46, "links.web.upstream")
    assert "not the link itself" in problem.expected


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("localhost", "a host:port address such as 127.0.0.1:5432"),
        ("127.0.0.1:0", "with a port from 1 to 65535"),
        ("127.0.0.1:70000", "with a port from 1 to 65535"),
    ],
)
def test_bad_upstream_address(tmp_path: Path, address: str, expected: str) -> None:
    (problem,) = problems_of(tmp_path, SYSTEM.replace('"127.0.0.1:5432"', f'"{address}"'))
    assert (problem.line, problem.column, problem.key) == (4, 46, "links.api->db.upstream")
    assert expected in problem.expected


def test_unknown_link_and_process_in_faults(tmp_path: Path) -> None:
    text = SYSTEM.replace("{link: api->db}", "{link: api-db}").replace(
        "{process: api}", "{process: worker}"
    )
    problems = problems_of(tmp_path, text)
    assert [(p.line, p.column, p.key, p.found) for p in problems] == [
        (13, 20, "faults[0].target.link", "unknown link 'api-db'"),
        (17, 52, "faults[1].target.process", "unknown process 'worker'"),
    ]
    assert problems[0].expected.startswith("'api->db' (did you mean it?)")


def test_fault_the_agent_cannot_carry_out_and_wrong_target_kind(tmp_path: Path) -> None:
    text = SYSTEM.replace("kind: process.kill", "kind: db.failover").replace(
        "kind: resource.cpu, target: {host: true}", "kind: resource.cpu, target: {link: web}"
    )
    problems = problems_of(tmp_path, text)
    assert [(p.line, p.column, p.key) for p in problems] == [
        (17, 20, "faults[1].kind"),
        (17, 51, "faults[1].target.process"),
        (18, 41, "faults[2].target.link"),
    ]
    assert "the agent does not carry out" in problems[0].found
    assert problems[2].expected == "a host or service target for resource.cpu"


def test_bad_fault_parameters_in_a_system_file(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, SYSTEM.replace("jitter: 10ms", "jitter: -1ms, colour: 1"))
    assert [(p.line, p.column, p.key) for p in problems] == [
        (14, 38, "faults[0].params.jitter"),
        (14, 44, "faults[0].params.colour"),
    ]


def test_system_file_may_use_its_own_vars(tmp_path: Path) -> None:
    text = SYSTEM.replace("name: shop\n", "name: shop\nvars: {db_port: 5432}\n").replace(
        '"127.0.0.1:5432"', '"127.0.0.1:${db_port}"'
    )
    system = load_system(write(tmp_path, text), environ={})
    assert system.links["api->db"].upstream.port == 5432
    assert system.variables()["db_port"] == "5432"


def test_experiment_targets_must_exist_in_the_system(tmp_path: Path) -> None:
    system = load_system(write(tmp_path, SYSTEM), environ={})
    experiment = textwrap.dedent(
        """\
        version: 1
        title: t
        targets:
          db: {link: api-db}
          worker: {service: workers, share: 0.5}
        steady_state:
          - probe: {process: {name: api}}
            tolerance: {success_rate: "== 1"}
        method:
          - {fault: network.latency, target: db, with: {latency: 1ms}, duration: 1s}
          - {fault: process.kill, target: worker, duration: 1s}
        """
    )
    path = write(tmp_path, experiment, "exp.yaml")
    with pytest.raises(SpecError) as caught:
        load_experiment(path, system=system, environ={})
    assert [(p.line, p.column, p.key, p.found) for p in caught.value.problems] == [
        (4, 14, "targets.db.link", "unknown link 'api-db'"),
        (5, 21, "targets.worker.service", "unknown service 'workers'"),
    ]
    assert load_experiment(path, environ={}).targets["worker"].share == 0.5

# ruff: noqa: F811  (pytest fixtures imported by name are redefined as parameters)
"""``ialr chaos run`` / ``cleanup`` bad-input cases: exit 3, 4 or 5 and nothing applied."""

from __future__ import annotations

import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ial_resilience.cli.main import main
from ial_resilience.engine.lock import RunLock
from tests.agent_fixtures import RunningAgent, running_agent  # noqa: F401

STEADY = """steady_state:
  - probe: {name: ok, command: {argv: "true"}}
    samples: 2
    every: 10ms
    tolerance: {success_rate: ">= 1"}
"""


def experiment(
    tmp_path: Path,
    *,
    environment: str = "lab",
    target: str = "db: {link: api->db}",
    method: str = "  - {fault: network.latency, target: db, with: {latency: 50ms}, duration: 2s}",
) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(
        f"version: 1\ntitle: cli case\nenvironment: {environment}\n"
        f"targets:\n  {target}\n{STEADY}method:\n{method}\n"
    )
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["chaos", *args])
    out, err = capsys.readouterr()
    return code, out, err


def no_active_faults(agent: RunningAgent) -> bool:
    return not [f for f in agent.client.faults() if f["state"] == "active"]


def test_dry_run_prints_the_plan_without_an_agent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    code, out, _ = run(
        capsys, "run", str(experiment(tmp_path)), "--dry-run", "--state-dir", str(state)
    )
    assert code == 0, out
    assert "network.latency" in out and "nothing was applied" in out
    assert not state.exists()
    code, out, _ = run(
        capsys, "run", str(experiment(tmp_path)), "--dry-run", "--json", "--state-dir", str(state)
    )
    assert code == 0 and json.loads(out)["faults"][0]["fault"] == "network.latency"


def test_agent_unreachable_is_exit_5(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "run", str(experiment(tmp_path)), "--state-dir", str(tmp_path))
    assert code == 5
    assert "no agent is running" in err and "Hint:" in err


def test_wrong_token_is_exit_5_and_nothing_applied(
    tmp_path: Path, running_agent: RunningAgent, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "other-state"
    state.mkdir()
    shutil.copy(running_agent.state_dir / "agent.json", state / "agent.json")
    (state / "agent.token").write_text("not-the-token\n")
    running_agent.client.create_link("api->db", "127.0.0.1:0", "127.0.0.1:9")
    code, _, err = run(capsys, "run", str(experiment(tmp_path)), "--state-dir", str(state))
    assert code == 5
    assert "refused the token" in err
    assert no_active_faults(running_agent)


@pytest.fixture
def garbage_agent(tmp_path: Path) -> Iterator[Path]:
    """A tiny HTTP server answering non-JSON to everything (a legit boundary double)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html>surprise</html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_DELETE = do_GET

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state = tmp_path / "garbage-state"
    state.mkdir()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    (state / "agent.json").write_text(json.dumps({"url": url, "pid": 1}))
    (state / "agent.token").write_text("token\n")
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_agent_answering_garbage_is_exit_5(
    tmp_path: Path, garbage_agent: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "run", str(experiment(tmp_path)), "--state-dir", str(garbage_agent))
    assert code == 5
    assert "not JSON" in err or "unexpected shape" in err


def test_second_run_on_the_same_system_is_exit_4(
    tmp_path: Path, running_agent: RunningAgent, capsys: pytest.CaptureFixture[str]
) -> None:
    with RunLock(running_agent.state_dir, "local", "the first run"):
        code, _, err = run(
            capsys, "run", str(experiment(tmp_path)), "--state-dir", str(running_agent.state_dir)
        )
    assert code == 4
    assert "the first run" in err and "lock" in err


def test_production_is_refused_with_exit_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = experiment(tmp_path, environment="production")
    code, _, err = run(capsys, "run", str(file), "--allow-production", "--state-dir", str(tmp_path))
    assert code == 4
    assert "allow_production" in err


def test_fault_the_local_provider_lacks_is_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = experiment(
        tmp_path,
        target="db: {database: orders}",
        method="  - {fault: db.failover, target: db, duration: 5s}",
    )
    code, _, err = run(capsys, "run", str(file), "--dry-run", "--state-dir", str(tmp_path))
    assert code == 3
    assert "db.failover" in err and "'local' provider" in err


def test_link_unknown_to_the_agent_is_exit_3(
    tmp_path: Path, running_agent: RunningAgent, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "run", str(experiment(tmp_path)), "--state-dir", str(running_agent.state_dir)
    )
    assert code == 3
    assert "no link 'api->db'" in err
    assert no_active_faults(running_agent)


@pytest.mark.parametrize(
    "fault",
    ["resource.memory, target: box, with: {bytes: 1TiB}",
     "resource.disk, target: box, with: {bytes: 100TiB, directory: DIR}"],
    ids=["memory", "disk"],
)  # fmt: skip
def test_resource_fault_above_its_bound_is_exit_5_and_nothing_applied(
    fault: str, tmp_path: Path, running_agent: RunningAgent, capsys: pytest.CaptureFixture[str]
) -> None:
    fault = fault.replace("DIR", str(tmp_path))
    file = experiment(
        tmp_path,
        target="box: {host: local}",
        method=f"  - {{fault: {fault}, duration: 5s}}",
    )
    code, out, _ = run(
        capsys, "run", str(file), "--json", "--journal", str(tmp_path / "j.json"),
        "--state-dir", str(running_agent.state_dir),
    )  # fmt: skip
    assert code == 5, out
    summary = json.loads(out)
    assert summary["status"] == "error" and summary["faults"][0]["applied"] is False
    assert no_active_faults(running_agent)


def test_bad_var_and_bad_yaml_are_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "run", str(experiment(tmp_path)), "--var", "novalue", "--dry-run")
    assert code == 3 and "k=v" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ntitle: [unclosed\n")
    code, _, _ = run(capsys, "run", str(bad), "--dry-run")
    assert code == 3


def test_cleanup_with_nothing_pending(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "cleanup", "--json", "--state-dir", str(tmp_path))
    assert code == 0
    assert json.loads(out) == {"ledgers": 0, "pending": 0, "reverted": 0, "results": []}


def test_blast_radius_over_half_the_replicas_is_exit_4(
    tmp_path: Path, running_agent: RunningAgent, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("api-1", "api-2", "api-3"):
        running_agent.client.add_process(name, argv=["sleep", "60"])
    file = experiment(
        tmp_path,
        target="api: {service: api, replicas: 2}",
        method="  - {fault: process.kill, target: api, duration: 1s}",
    )
    code, _, err = run(capsys, "run", str(file), "--state-dir", str(running_agent.state_dir))
    assert code == 4
    assert "2 of 3 replicas (67%)" in err and "blast_radius.max_share" in err
    assert no_active_faults(running_agent)
    assert all(p["alive"] for p in running_agent.client.processes())


def test_the_lock_is_per_system_file_name(
    tmp_path: Path, running_agent: RunningAgent, capsys: pytest.CaptureFixture[str]
) -> None:
    system = tmp_path / "system.yaml"
    system.write_text(
        "version: 1\nname: shop\nlinks:\n"
        '  "api->db": {listen: "127.0.0.1:0", upstream: "127.0.0.1:9"}\n'
    )
    args = ["run", str(experiment(tmp_path)), "--system", str(system)]
    with RunLock(running_agent.state_dir, "shop", "the shop drill"):
        code, _, err = run(capsys, *args, "--state-dir", str(running_agent.state_dir))
    assert code == 4 and "system 'shop'" in err and "the shop drill" in err

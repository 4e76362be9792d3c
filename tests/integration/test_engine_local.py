# ruff: noqa: F811  (pytest fixtures imported by name are redefined as parameters)
"""The engine against a real agent and a real PostgreSQL behind an agent link."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ial_resilience.agent.client import AgentClient
from ial_resilience.cli.main import main
from ial_resilience.postgres import PostgresInstance
from tests.agent_fixtures import RunningAgent, agent, running_agent  # noqa: F401
from tests.pg_fixtures import postgres  # noqa: F401

pytestmark = pytest.mark.postgres


@pytest.fixture
def db_link(running_agent: RunningAgent, postgres: PostgresInstance) -> Iterator[str]:
    """A link ``api->db`` in front of PostgreSQL; yields the DSN through the link."""
    snapshot = running_agent.client.create_link("api->db", "127.0.0.1:0", postgres.address)
    port = int(str(snapshot["listen"]).rsplit(":", 1)[1])
    yield postgres.dsn(host="127.0.0.1", port=port)


def write_experiment(path: Path, dsn: str, *, method: str, extra: str = "") -> Path:
    path.write_text(
        f"""version: 1
title: Orders DB tolerates latency
environment: lab
targets:
  db: {{link: api->db}}
steady_state:
  - probe: {{name: db, sql: {{dsn: "{dsn}", query: "SELECT 1"}}}}
    samples: 5
    every: 20ms
    tolerance: {{success_rate: ">= 1", p95_ms: "<= 100"}}
method:
{method}
recovery: {{within: 10s, every: 50ms}}
{extra}"""
    )
    return path


LATENCY_200 = """  - fault: network.latency
    target: db
    with: {latency: 200ms}
    duration: 1500ms
"""

DURING = """probes:
  - probe: {name: db during, sql: {dsn: "DSN", query: "SELECT 1"}}
    every: 50ms
    tolerance: {p95_ms: "<= 100"}
"""


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_latency_on_the_db_link_makes_the_hypothesis_deviate(
    tmp_path: Path,
    db_link: str,
    running_agent: RunningAgent,
    capsys: pytest.CaptureFixture[str],
) -> None:
    file = write_experiment(
        tmp_path / "exp.yaml", db_link, method=LATENCY_200, extra=DURING.replace("DSN", db_link)
    )
    journal = tmp_path / "journal.json"
    code, out, _ = run_cli(
        capsys, "chaos", "run", str(file), "--json", "--journal", str(journal),
        "--state-dir", str(running_agent.state_dir),
    )  # fmt: skip
    summary = json.loads(out)
    assert code == 1, out
    assert summary["status"] == "deviated"
    assert "during the faults" in summary["reason"]
    document = json.loads(journal.read_text())
    [fault] = document["faults"]
    assert fault["landed"] is True and fault["mechanism"] == "proxy"
    delay = fault["evidence"]["agent_faults"][0]["added_delay_ms"]
    assert delay["p50"] >= 180, delay
    [during] = document["hypothesis"]["during"]
    p95 = next(c for c in during["checks"] if c["statistic"] == "p95_ms")
    assert p95["actual"] >= 190
    assert document["hypothesis"]["after"][0]["holds"] is True
    assert document["complete"] is True
    assert not [f for f in running_agent.client.faults() if f["state"] == "active"]


def test_small_latency_passes_with_evidence(
    tmp_path: Path,
    db_link: str,
    running_agent: RunningAgent,
    capsys: pytest.CaptureFixture[str],
) -> None:
    method = LATENCY_200.replace("200ms", "20ms")
    file = write_experiment(
        tmp_path / "exp.yaml", db_link, method=method, extra=DURING.replace("DSN", db_link)
    )
    code, out, _ = run_cli(
        capsys, "chaos", "run", str(file), "--journal", str(tmp_path / "j.json"),
        "--state-dir", str(running_agent.state_dir),
    )  # fmt: skip
    assert code == 0, out
    assert "PASSED" in out and "added delay p50" in out and "landed" in out


def test_a_guardrail_aborts_and_the_faults_are_gone(
    tmp_path: Path,
    db_link: str,
    running_agent: RunningAgent,
    capsys: pytest.CaptureFixture[str],
) -> None:
    method = LATENCY_200.replace("200ms", "300ms").replace("1500ms", "30s")
    guard = f"""guardrails:
  - probe: {{name: db guard, sql: {{dsn: "{db_link}", query: "SELECT 1"}}}}
    every: 50ms
    window: 1s
    tolerance: {{max_ms: "<= 150"}}
"""
    file = write_experiment(tmp_path / "exp.yaml", db_link, method=method, extra=guard)
    started = time.monotonic()
    code, out, _ = run_cli(
        capsys, "chaos", "run", str(file), "--json", "--journal", str(tmp_path / "j.json"),
        "--state-dir", str(running_agent.state_dir),
    )  # fmt: skip
    assert code == 2, out
    assert time.monotonic() - started < 20
    summary = json.loads(out)
    assert summary["status"] == "aborted" and "guardrail" in summary["reason"]
    assert summary["time_to_abort_ms"] is not None and summary["time_to_abort_ms"] < 1000
    assert summary["faults"][0]["revert_reason"] == "guardrail"
    assert not [f for f in running_agent.client.faults() if f["state"] == "active"]


def _spawn_run(file: Path, state_dir: Path, journal: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "ial_resilience.cli.main", "chaos", "run", str(file),
         "--json", "--journal", str(journal), "--state-dir", str(state_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def _wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _active(client: AgentClient) -> list[dict[str, Any]]:
    return [f for f in client.faults() if f["state"] == "active"]


def _kill_mid_fault(
    tmp_path: Path,
    dsn: str,
    running_agent: RunningAgent,
    duration: str,
) -> dict[str, Any]:
    method = LATENCY_200.replace("1500ms", duration)
    file = write_experiment(tmp_path / "exp.yaml", dsn, method=method)
    journal = tmp_path / "j.json"
    process = _spawn_run(file, running_agent.state_dir, journal)
    try:
        [fault] = _wait_for(lambda: _active(running_agent.client), 30, "the fault to be applied")
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert json.loads(journal.read_text())["complete"] is False
    return fault


def test_kill_9_mid_fault_then_the_agent_reverts_at_expiry(
    tmp_path: Path,
    db_link: str,
    running_agent: RunningAgent,
) -> None:
    fault = _kill_mid_fault(tmp_path, db_link, running_agent, "3s")
    assert running_agent.client.fault(fault["id"])["state"] == "active"
    _wait_for(lambda: running_agent.client.fault(fault["id"])["state"] == "expired", 10, "expiry")


def test_kill_9_mid_fault_then_cleanup_reverts_at_once(
    tmp_path: Path,
    db_link: str,
    running_agent: RunningAgent,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fault = _kill_mid_fault(tmp_path, db_link, running_agent, "60s")
    state = str(running_agent.state_dir)
    code, out, _ = run_cli(capsys, "chaos", "cleanup", "--json", "--state-dir", state)
    assert code == 0, out
    report = json.loads(out)
    assert report["pending"] == 1 and report["results"][0]["reverted"] == [fault["id"]]
    assert running_agent.client.fault(fault["id"])["state"] == "reverted"
    code, out, _ = run_cli(capsys, "chaos", "cleanup", "--state-dir", state)
    assert code == 0 and "nothing to clean up" in out


def test_sigterm_reverts_at_once_and_marks_the_journal_incomplete(
    tmp_path: Path, db_link: str, running_agent: RunningAgent, capsys: pytest.CaptureFixture[str]
) -> None:
    method = LATENCY_200.replace("1500ms", "60s")
    file = write_experiment(tmp_path / "exp.yaml", db_link, method=method)
    journal = tmp_path / "j.json"
    process = _spawn_run(file, running_agent.state_dir, journal)
    try:
        [fault] = _wait_for(lambda: _active(running_agent.client), 30, "the fault to be applied")
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 2
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert running_agent.client.fault(fault["id"])["state"] == "reverted"
    document = json.loads(journal.read_text())
    assert document["complete"] is False and document["status"] == "aborted"
    assert document["faults"][0]["revert_reason"] == "interrupted"
    code, out, _ = run_cli(
        capsys, "chaos", "cleanup", "--json", "--state-dir", str(running_agent.state_dir)
    )
    assert code == 0 and json.loads(out)["pending"] == 0


def test_a_fault_without_effect_is_inconclusive_exit_6(
    tmp_path: Path, db_link: str, running_agent: RunningAgent, capsys: pytest.CaptureFixture[str]
) -> None:
    running_agent.client.create_link("api->idle", "127.0.0.1:0", "127.0.0.1:9")
    method = LATENCY_200.replace("target: db", "target: idle").replace("1500ms", "500ms")
    file = write_experiment(tmp_path / "exp.yaml", db_link, method=method)
    text = file.read_text().replace("  db: {link: api->db}", "  idle: {link: api->idle}")
    file.write_text(text)
    code, out, _ = run_cli(
        capsys, "chaos", "run", str(file), "--json", "--journal", str(tmp_path / "j.json"),
        "--state-dir", str(running_agent.state_dir),
    )  # fmt: skip
    assert code == 6, out
    summary = json.loads(out)
    assert summary["status"] == "inconclusive" and summary["faults"][0]["landed"] is False


def test_process_kill_through_the_engine_reports_the_dead_pid(
    tmp_path: Path, db_link: str, running_agent: RunningAgent, capsys: pytest.CaptureFixture[str]
) -> None:
    worker = running_agent.client.add_process("worker", argv=["sleep", "60"])
    method = """  - fault: process.kill
    target: worker
    duration: 300ms
"""
    file = write_experiment(tmp_path / "exp.yaml", db_link, method=method)
    file.write_text(
        file.read_text().replace("  db: {link: api->db}", "  worker: {process: worker}")
    )
    code, out, _ = run_cli(
        capsys, "chaos", "run", str(file), "--json", "--journal", str(tmp_path / "j.json"),
        "--state-dir", str(running_agent.state_dir),
    )  # fmt: skip
    assert code == 0, out
    [fault] = json.loads((tmp_path / "j.json").read_text())["faults"]
    assert fault["mechanism"] == "signal" and fault["landed"] is True
    assert fault["evidence"]["agent_faults"][0]["pid"] == worker["pid"]

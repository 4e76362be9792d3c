"""The agent process itself: state files, auth, bad input, clean exit on SIGTERM."""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from ial_resilience.agent.client import AgentClient
from ial_resilience.errors import AgentAuthError
from tests.agent_fixtures import RunningAgent, start_agent


@pytest.fixture
def running_agent(tmp_path: Path) -> Iterator[RunningAgent]:
    with start_agent(tmp_path / "state") as running:
        yield running


def _wait(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_state_files_and_token_mode(running_agent: RunningAgent) -> None:
    info = json.loads((running_agent.state_dir / "agent.json").read_text())
    assert info["pid"] == running_agent.process.pid
    assert info["url"].startswith("http://127.0.0.1:")
    mode = stat.S_IMODE((running_agent.state_dir / "agent.token").stat().st_mode)
    assert mode == 0o600
    assert running_agent.client.health()["pid"] == running_agent.process.pid


def test_requests_without_the_right_token_get_401(running_agent: RunningAgent) -> None:
    url = running_agent.client.url
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        response = httpx.get(f"{url}/v1/status", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
    assert httpx.get(f"{url}/v1/health").status_code == 200
    assert "ialr_agent_faults_active" in httpx.get(f"{url}/metrics").text
    with AgentClient(url, "wrong") as client, pytest.raises(AgentAuthError):
        client.status()


def _fault(fields: bytes) -> bytes:
    return b'{"faults": [{' + fields + b"}]}"


# fmt: off
GARBAGE: list[tuple[str, bytes]] = [
    ("/v1/faults", b""),
    ("/v1/faults", b"not json"),
    ("/v1/faults", b"\xff\xfe\x00"),
    ("/v1/faults", b"[]"),
    ("/v1/faults", b'{"faults": 3}'),
    ("/v1/faults", b'{"faults": []}'),
    ("/v1/faults", b'{"faults": [{"kind": "pause"}]}'),
    ("/v1/faults", _fault(b'"kind": "pause", "target": {"process": "x"}, "duration_ms": 0')),
    ("/v1/faults", _fault(b'"kind": "pause", "target": {"process": "x"}, "duration_ms": -5')),
    ("/v1/faults", _fault(b'"kind": "cpu", "target": {"host": true}, "duration_ms": "30s"')),
    ("/v1/faults", b'{"faults": [{"kind": "cpu", "target": {"host": true}, "duration_ms": 1e12}]}'),
    ("/v1/faults", b'{"faults": [{"kind": "cpu", "target": {"moon": 1}, "duration_ms": 100}]}'),
    ("/v1/faults", b'{"faults": [{"kind": "cpu", "target": {"host": true}, "duration_ms": 100,'
     b' "params": {"workers": "many"}}]}'),
    ("/v1/faults", _fault(b'"kind": "latency", "target": {"link": "nope"}, "duration_ms": 100')),
    ("/v1/faults", b'{"faults": [{"kind": "cpu", "target": {"host": true}, "duration_ms": 100,'
     b' "toxicity": 2}]}'),
    ("/v1/faults", b"[" * 5000 + b"]" * 5000),
    ("/v1/links", b'{"name": "a/b", "upstream": "127.0.0.1:1"}'),
    ("/v1/links", b'{"name": "x", "upstream": "nohostport"}'),
    ("/v1/links", b'{"name": 5}'),
    ("/v1/processes", b'{"name": "p"}'),
    ("/v1/processes", b'{"name": "p", "argv": [], "pid": 1}'),
    ("/v1/processes", b'{"name": "p", "argv": "sleep 1"}'),
    ("/v1/processes", b'{"name": "../etc", "argv": ["true"]}'),
    ("/v1/processes", b'{"name": "p", "pid": 1}'),
    ("/v1/processes", b'{"name": "p", "argv": ["/no/such/binary"]}'),
    ("/v1/links/nope/reset", b""),
]
# fmt: on


def test_garbage_bodies_get_4xx_and_the_agent_keeps_serving(running_agent: RunningAgent) -> None:
    url = running_agent.client.url
    token = (running_agent.state_dir / "agent.token").read_text().strip()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=url, headers=headers) as http:
        for path, body in GARBAGE:
            response = http.post(path, content=body)
            assert 400 <= response.status_code < 500, (path, body[:80], response.text)
            assert response.json()["error"]["message"], (path, body[:80])
        for method, path in (
            ("DELETE", "/v1/faults/nope"),
            ("GET", "/v1/nothing"),
            ("PUT", "/v1/faults"),
        ):
            response = http.request(method, path)
            assert 400 <= response.status_code < 500
            assert "error" in response.json()
    assert running_agent.client.health()["ok"] is True
    assert running_agent.client.status()["faults"] == []
    assert "POST /v1/faults -> 400" in (running_agent.state_dir / "agent.log").read_text()


def test_second_agent_on_the_same_state_dir_is_refused(running_agent: RunningAgent) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ial_resilience.agent.daemon", "--state-dir",
         str(running_agent.state_dir), "--port", "0"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 3
    assert "already runs" in result.stderr
    assert running_agent.client.health()["ok"] is True


def test_bind_address_other_than_loopback_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ial_resilience.agent.daemon", "--state-dir", str(tmp_path),
         "--host", "0.0.0.0"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 3
    assert "127.0.0.1 only" in result.stderr
    assert not (tmp_path / "agent.json").exists()


def test_sigterm_reverts_every_fault_and_removes_agent_json(tmp_path: Path) -> None:
    victim = subprocess.Popen(["sleep", "60"])
    try:
        with start_agent(tmp_path / "state") as running:
            client = running.client
            client.add_process("victim", pid=victim.pid)
            fill_dir = tmp_path / "fill"
            fill_dir.mkdir()
            client.apply_faults([
                {"id": "p1", "kind": "pause", "target": {"process": "victim"},
                 "duration_ms": 60_000},
                {"id": "d1", "kind": "disk", "target": {"host": True}, "duration_ms": 60_000,
                 "params": {"directory": str(fill_dir), "bytes": 1 << 20}},
            ])  # fmt: skip
            assert psutil.Process(victim.pid).status() == psutil.STATUS_STOPPED
            assert list(fill_dir.iterdir())
            assert running.stop() == 0
            assert not (running.state_dir / "agent.json").exists()
            assert psutil.Process(victim.pid).status() != psutil.STATUS_STOPPED
            assert list(fill_dir.iterdir()) == []
            assert "reverted 2 fault(s)" in running.stderr()
    finally:
        victim.send_signal(signal.SIGCONT)
        victim.kill()
        victim.wait()


def test_stress_children_do_not_outlive_a_killed_agent(tmp_path: Path) -> None:
    fill_dir = tmp_path / "fill"
    fill_dir.mkdir()
    with start_agent(tmp_path / "state") as running:
        applied = running.client.apply_faults([
            {"kind": "cpu", "target": {"host": True}, "duration_ms": 60_000,
             "params": {"workers": 1, "load": 10}},
            {"kind": "disk", "target": {"host": True}, "duration_ms": 60_000,
             "params": {"directory": str(fill_dir), "bytes": 1 << 20}},
        ])  # fmt: skip
        [worker] = applied[0]["evidence"]["worker_pids"]
        assert list(fill_dir.iterdir())
        running.process.kill()
        running.process.wait(10)

        def gone() -> bool:
            return not psutil.pid_exists(worker) or psutil.Process(worker).status() == "zombie"

        assert _wait(gone)
        assert _wait(lambda: list(fill_dir.iterdir()) == [])

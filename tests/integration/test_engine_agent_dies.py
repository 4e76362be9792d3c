# ruff: noqa: F811  (pytest fixtures imported by name are redefined as parameters)
"""A running ``ialr chaos run`` whose agent is killed (``kill -9``): the run ends at once with
status ``error`` (exit 5), a complete journal, the fault left pending in the ledger for
``ialr chaos cleanup``, and the paused process running again (the agent's watchdog). Killed
mid-fault, mid-apply (the apply's answer never comes: the fault stays pending, never closed as
"nothing applied") and before any fault (nothing pending).

Everything is real: the agent process, its watchdog, the CLI in a subprocess, and the victim, a
small HTTP server the agent adopts by pid and pauses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import psutil
import pytest

from ial_resilience.cli.main import main
from ial_resilience.engine import ledger as ledger_mod
from tests.agent_fixtures import RunningAgent, running_agent  # noqa: F401
from tests.integration.test_agent_crash import status, wait_for, watchdog_of

PAUSE_S = 60  # far longer than the test: the run must not wait for the fault's end
VICTIM = """
import http.server
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


class Victim:
    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process, self.url = process, url

    @property
    def pid(self) -> int:
        return self.process.pid

    def answers(self) -> bool:
        try:
            return httpx.get(self.url, timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False


@pytest.fixture
def victim() -> Iterator[Victim]:
    """An HTTP server on a free loopback port; always resumed and reaped at the end."""
    process = subprocess.Popen([sys.executable, "-c", VICTIM], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield Victim(process, f"http://127.0.0.1:{port}/")
    finally:
        process.send_signal(signal.SIGCONT)
        process.kill()
        process.wait()


def write_experiment(path: Path, victim: Victim, *, samples: int) -> Path:
    path.write_text(
        f"""version: 1
title: The API survives a paused process
environment: lab
targets:
  victim: {{process: victim}}
steady_state:
  - probe: {{name: victim answers, http: {{url: "{victim.url}", timeout: 1s}}}}
    samples: {samples}
    every: 100ms
    tolerance: {{success_rate: ">= 1"}}
method:
  - {{fault: process.pause, target: victim, duration: {PAUSE_S}s}}
probes:
  - probe: {{name: victim during, http: {{url: "{victim.url}", timeout: 300ms}}}}
    every: 200ms
recovery: {{within: 10s, every: 100ms}}
"""
    )
    return path


def spawn_run(file: Path, state_dir: Path, journal: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ial_resilience.cli.main", "chaos", "run", str(file),
         "--journal", str(journal), "--state-dir", str(state_dir), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip


def finish(process: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(f"the run did not end in {timeout} s: {out}\n{err}") from None
    return process.returncode, out, err


def read_until(stream: IO[str], text: str) -> list[str]:
    """Lines of ``stream`` up to the one containing ``text`` (the run's line display)."""
    lines = []
    for line in stream:
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"the run ended before printing {text!r}: {''.join(lines)}")


def cleanup(capsys: pytest.CaptureFixture[str], state: Path) -> dict[str, Any]:
    capsys.readouterr()  # what the test printed before (its figures)
    code = main(["chaos", "cleanup", "--json", "--state-dir", str(state)])
    out, err = capsys.readouterr()
    assert code == 0, err
    report: dict[str, Any] = json.loads(out)
    return report


def ledger_pending(state: Path) -> list[ledger_mod.PendingFault]:
    return [p for path in ledger_mod.ledgers(state) for p in ledger_mod.pending(path)]


def ledger_has(state: Path, event: ledger_mod.LedgerEvent) -> bool:
    return any(
        entry.event is event
        for path in ledger_mod.ledgers(state)
        for entry in ledger_mod.read(path)
    )


@dataclass
class Ended:
    code: int
    summary: dict[str, Any]
    journal: dict[str, Any]
    killed_at: float


def kill_agent_once(
    tmp_path: Path, agent: RunningAgent, victim: Victim, event: ledger_mod.LedgerEvent
) -> Ended:
    """Run a 60 s pause of the victim through the CLI; ``kill -9`` the agent as soon as the
    run's ledger has ``event``; wait for the watchdog to resume the victim and the run to end."""
    agent.client.add_process("victim", pid=victim.pid)
    watchdog_of(agent)  # it is up before the agent is killed
    file = write_experiment(tmp_path / "exp.yaml", victim, samples=3)
    journal = tmp_path / "journal.json"
    run = spawn_run(file, agent.state_dir, journal, "--json")
    try:
        wait_for(lambda: ledger_has(agent.state_dir, event), f"{event} in the ledger", 60)
        agent.process.kill()
        killed_at = time.time()
        agent.process.wait(10)
        wait_for(lambda: status(victim.pid) != psutil.STATUS_STOPPED, "the victim to run")
        code, out, err = finish(run)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert code == 5, out + err
    return Ended(code, json.loads(out), json.loads(journal.read_text()), killed_at)


def assert_clean_error(ended: Ended, agent: RunningAgent) -> dict[str, Any]:
    """Status error, a complete journal, a reason that says what happened and what to do; the
    run did not wait for the fault's end. Returns the fault's journal entry."""
    summary, document = ended.summary, ended.journal
    assert summary["status"] == "error" and summary["complete"] is True
    reason = summary["reason"]
    assert f"the agent (pid {agent.process.pid}) died" in reason, reason
    assert "watchdog" in reason and "ialr chaos cleanup" in reason, reason
    assert "could not confirm that process.pause on victim ended" in reason, reason
    assert document["complete"] is True and document["status"] == "error"
    assert document["exit_code"] == 5
    ended_after = document["ended_at"] - ended.killed_at
    assert ended_after < PAUSE_S / 2  # it did not wait for the fault's end
    print(f"the run ended {ended_after * 1000:.0f} ms after the agent's SIGKILL")
    assert document["recovery"] is None and document["hypothesis"]["after"] == []
    [fault] = document["faults"]
    assert fault["revert_confirmed"] is False and "died" in fault["error"]
    fault_entry: dict[str, Any] = fault
    return fault_entry


def assert_cleanup_ends_it(capsys: pytest.CaptureFixture[str], state: Path, key: str) -> None:
    [pending] = ledger_pending(state)
    assert pending.intent.key == key
    report = cleanup(capsys, state)
    assert report["pending"] == 1 and report["reverted"] == 0
    [result] = report["results"]
    assert result["key"] == key and "ended with the agent" in result["note"]
    assert ledger_pending(state) == []
    assert cleanup(capsys, state)["pending"] == 0


def test_agent_killed_mid_fault_ends_the_run_with_an_error_and_the_watchdog_resumes(
    tmp_path: Path,
    running_agent: RunningAgent,
    victim: Victim,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ended = kill_agent_once(tmp_path, running_agent, victim, ledger_mod.LedgerEvent.APPLIED)
    fault = assert_clean_error(ended, running_agent)
    assert fault["applied"] is True and fault["revert_reason"] == "error"
    assert fault["error"].startswith("revert not confirmed: ")
    events = ended.journal["events"]
    [died] = [e for e in events if e["kind"] == "provider-failed"]
    assert died["phase"] == "method" and "ialr chaos cleanup" in died["data"]["hint"]
    failed = [e for e in events if e["kind"] == "fault-failed"]
    assert any("died" in e["message"] for e in failed), failed

    assert victim.answers()  # the watchdog resumed it: it serves again
    assert_cleanup_ends_it(capsys, running_agent.state_dir, fault["key"])


def test_agent_killed_while_the_fault_is_applied_leaves_it_pending_not_closed(
    tmp_path: Path,
    running_agent: RunningAgent,
    victim: Victim,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Killed the moment the intent is written: the apply may or may not have landed; either
    way the ledger must not claim that nothing was applied."""
    ended = kill_agent_once(tmp_path, running_agent, victim, ledger_mod.LedgerEvent.INTENT)
    fault = assert_clean_error(ended, running_agent)
    if not fault["applied"]:  # the apply's answer never came
        assert fault["error"].startswith("apply not confirmed: "), fault
    assert victim.answers()
    assert_cleanup_ends_it(capsys, running_agent.state_dir, fault["key"])


def test_agent_killed_before_any_fault_ends_the_run_with_an_error_and_nothing_pending(
    tmp_path: Path,
    running_agent: RunningAgent,
    victim: Victim,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = running_agent.state_dir
    running_agent.client.add_process("victim", pid=victim.pid)
    file = write_experiment(tmp_path / "exp.yaml", victim, samples=30)  # 3 s of steady state
    journal = tmp_path / "journal.json"
    run = spawn_run(file, state, journal)
    try:
        assert run.stdout is not None
        read_until(run.stdout, "sampling the steady state")
        running_agent.process.kill()
        running_agent.process.wait(10)
        code, out, err = finish(run)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()

    assert code == 5, out + err
    assert f"the agent (pid {running_agent.process.pid}) died" in out, out
    assert "no fault was applied" in out, out
    assert "Hint: start the agent again" in out and "`ialr chaos cleanup`" in out, out
    assert "Traceback" not in out + err
    document = json.loads(journal.read_text())
    assert document["complete"] is True and document["status"] == "error"
    [fault] = document["faults"]
    assert fault["applied"] is False
    assert document["hypothesis"]["before"][0]["holds"] is True
    assert status(victim.pid) != psutil.STATUS_STOPPED and victim.answers()
    assert ledger_pending(state) == []
    assert cleanup(capsys, state)["pending"] == 0

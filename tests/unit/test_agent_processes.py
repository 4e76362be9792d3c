"""ProcessTable: spawn with logs, adopt by pid, names, respawn rules."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from ial_resilience.agent.errors import Conflict, NotFound
from ial_resilience.agent.processes import ProcessTable, wait_until
from ial_resilience.errors import FaultRejected, InputError

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


@pytest.fixture
def table(tmp_path: Path) -> Iterator[ProcessTable]:
    table = ProcessTable(tmp_path)
    yield table
    table.stop_spawned()


def test_spawned_output_goes_to_its_log_and_env_is_added(
    table: ProcessTable, tmp_path: Path
) -> None:
    code = "import os; print('hello', os.environ['IALR_TEST_VALUE'])"
    process = table.spawn("talker", [sys.executable, "-c", code], env={"IALR_TEST_VALUE": "42"})
    assert table.wait_exit(process, 10) == 0
    assert (tmp_path / "talker.log").read_text() == "hello 42\n"
    snapshot = table.snapshot(process)
    assert snapshot["alive"] is False and snapshot["origin"] == "spawned"


def test_names_are_checked_and_unique(table: ProcessTable) -> None:
    for bad in ("", "../x", "a/b", "-x", "x" * 65):
        with pytest.raises(InputError, match="not allowed"):
            table.spawn(bad, SLEEPER)
    table.spawn("web", SLEEPER)
    with pytest.raises(Conflict, match="already registered"):
        table.spawn("web", SLEEPER)
    with pytest.raises(InputError, match="cannot start"):
        table.spawn("ghost", ["/no/such/binary"])
    assert table.names() == ["web"]
    with pytest.raises(NotFound):
        table.get("ghost")


def test_adopted_processes_are_signalled_but_never_started_again(table: ProcessTable) -> None:
    outsider = subprocess.Popen(SLEEPER)
    try:
        process = table.adopt("outsider", outsider.pid)
        assert table.is_alive(process) and table.snapshot(process)["origin"] == "adopted"
        table.terminate(process, grace=5)
        outsider.wait(10)
        assert not table.is_alive(process)
        with pytest.raises(FaultRejected, match="adopted by pid"):
            table.respawn(process)
    finally:
        outsider.kill()
        outsider.wait()
    with pytest.raises(NotFound, match="no process with pid"):
        table.adopt("gone", outsider.pid)


def test_respawn_gives_a_new_pid_only_once_dead(table: ProcessTable) -> None:
    process = table.spawn("web", SLEEPER)
    first = process.pid
    with pytest.raises(FaultRejected, match="still running"):
        table.respawn(process)
    table.terminate(process)
    assert wait_until(lambda: not table.is_alive(process), 5)
    assert table.respawn(process) != first and process.restarts == 1
    assert table.is_alive(process)


def test_terminate_stops_a_spawned_process_with_its_children(table: ProcessTable) -> None:
    process = table.spawn("family", ["sh", "-c", "sleep 120 & wait"])
    parent = psutil.Process(process.pid)
    assert wait_until(lambda: parent.children(), 10)
    [child] = parent.children()
    table.terminate(process, grace=5)
    assert wait_until(lambda: not child.is_running() or child.status() == "zombie", 10)

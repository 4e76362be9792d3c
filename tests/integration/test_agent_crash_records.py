"""What the agent records for its watchdog: held processes, written before a SIGSTOP lands."""

from __future__ import annotations

import errno
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from ial_resilience.agent.processes import ProcessTable
from ial_resilience.agent.state import (
    HeldKind,
    HeldProcess,
    Holdings,
    held_path,
    read_holdings,
    write_holdings,
)
from ial_resilience.errors import FaultRejected, InputError

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def stop_sent(pid: int) -> bool:
    """True once SIGSTOP was sent to ``pid``: it is stopped, or the signal is still pending."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    pending = int(fields["SigPnd"], 16) | int(fields["ShdPnd"], 16)
    return fields["State"].strip().startswith("T") or bool(pending & 1 << (signal.SIGSTOP - 1))


class Sink:
    """Keeps every holdings tuple handed over, and the victim's state at that moment."""

    def __init__(self, watch_pid: int = 0) -> None:
        self.calls: list[tuple[HeldProcess, ...]] = []
        self.stop_sent: list[bool] = []
        self.watch_pid = watch_pid
        self.fail = False

    def __call__(self, held: tuple[HeldProcess, ...]) -> None:
        if self.fail:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.calls.append(held)
        if self.watch_pid:
            self.stop_sent.append(stop_sent(self.watch_pid))

    def last(self) -> set[tuple[HeldKind, str]]:
        return {(h.kind, h.name) for h in self.calls[-1]}


@pytest.fixture
def outsider() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(SLEEPER)
    yield process
    process.send_signal(signal.SIGCONT)
    process.kill()
    process.wait()


def test_a_pause_is_recorded_before_the_sigstop_and_released_after_sigcont(
    tmp_path: Path, outsider: subprocess.Popen[bytes]
) -> None:
    sink = Sink(watch_pid=outsider.pid)
    table = ProcessTable(tmp_path, on_change=sink)
    process = table.adopt("outsider", outsider.pid)
    table.send(process, signal.SIGSTOP)
    assert sink.last() == {(HeldKind.PAUSED, "outsider")}
    assert sink.stop_sent == [False]  # recorded first, then stopped
    [held] = sink.calls[-1]
    assert (held.pid, held.create_time) == (
        outsider.pid,
        psutil.Process(outsider.pid).create_time(),
    )
    table.send(process, signal.SIGCONT)
    assert sink.calls[-1] == ()


def test_spawned_processes_are_recorded_with_their_new_pid_after_a_respawn(tmp_path: Path) -> None:
    sink = Sink()
    table = ProcessTable(tmp_path, on_change=sink)
    try:
        process = table.spawn("worker", SLEEPER)
        [held] = sink.calls[-1]
        assert (held.kind, held.pid) == (HeldKind.SPAWNED, process.pid)
        table.send(process, signal.SIGSTOP)
        assert sink.last() == {(HeldKind.SPAWNED, "worker"), (HeldKind.PAUSED, "worker")}
        old_pid = process.pid
        table.terminate(process, grace=5)
        assert sink.last() == {(HeldKind.SPAWNED, "worker")}
        new_pid = table.respawn(process)
        assert new_pid != old_pid and [h.pid for h in sink.calls[-1]] == [new_pid]
        table.remove("worker")
        assert sink.calls[-1] == ()
    finally:
        table.stop_spawned()


def test_a_pause_that_cannot_be_recorded_is_refused_and_nothing_is_stopped(
    tmp_path: Path, outsider: subprocess.Popen[bytes]
) -> None:
    sink = Sink()
    table = ProcessTable(tmp_path, on_change=sink)
    process = table.adopt("outsider", outsider.pid)
    sink.fail = True
    with pytest.raises(FaultRejected, match="was not paused: cannot record what the agent holds"):
        table.send(process, signal.SIGSTOP)
    assert psutil.Process(outsider.pid).status() != psutil.STATUS_STOPPED


def test_a_spawn_that_cannot_be_recorded_is_stopped_again(tmp_path: Path) -> None:
    sink = Sink()
    sink.fail = True
    table = ProcessTable(tmp_path, on_change=sink)
    with pytest.raises(InputError, match="No space left on device") as raised:
        table.spawn("worker", SLEEPER)
    assert "state dir" in raised.value.hint
    assert table.names() == []
    leftovers = [
        p for p in psutil.Process().children()
        if p.status() != psutil.STATUS_ZOMBIE and p.cmdline()[1:] == SLEEPER[1:]
    ]  # fmt: skip
    assert leftovers == []


def test_holdings_file_round_trip_and_mode(tmp_path: Path) -> None:
    held = (HeldProcess(HeldKind.PAUSED, "a", 41, 1.5), HeldProcess(HeldKind.SPAWNED, "b", 42, 2.5))
    write_holdings(tmp_path, Holdings(7, 3.25, held))
    path = held_path(tmp_path, 7)
    assert read_holdings(path) == Holdings(7, 3.25, held)
    assert path.stat().st_mode & 0o777 == 0o600
    assert list(path.parent.glob("*.tmp")) == []
    path.write_text('{"version": 1, "agent": {"pid": 7}}')
    assert read_holdings(path) is None
    assert read_holdings(tmp_path / "missing.json") is None


def test_a_watchdog_whose_agent_still_runs_repairs_nothing(
    tmp_path: Path, outsider: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """End-of-file from a live agent (a bug, never a death): its holdings are left alone."""
    from ial_resilience.agent import watchdog

    me = psutil.Process()
    paused = HeldProcess(HeldKind.PAUSED, "outsider", outsider.pid, 0.0)
    write_holdings(tmp_path, Holdings(me.pid, me.create_time(), (paused,)))
    monkeypatch.setattr(watchdog, "GONE_WAIT_S", 0.05)
    log = logging.getLogger("ialr.agent")  # the watchdog sets it up: restore it afterwards
    monkeypatch.setattr(log, "handlers", [])
    monkeypatch.setattr(log, "propagate", log.propagate)
    monkeypatch.setattr(log, "level", log.level)
    read_fd, write_fd = os.pipe()
    os.close(write_fd)
    try:
        assert watchdog.watch(tmp_path, me.pid, me.create_time(), fd=read_fd) == 1
    finally:
        os.close(read_fd)
        for handler in log.handlers:
            handler.close()
    assert read_holdings(held_path(tmp_path, me.pid)) is not None
    assert "closed its pipe but still runs" in (tmp_path / "agent.log").read_text()


def test_the_watchdog_without_its_arguments_prints_its_usage() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ial_resilience.agent.watchdog"],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 2 and "usage:" in result.stderr

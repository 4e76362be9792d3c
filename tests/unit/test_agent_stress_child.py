"""Stress children stop on SIGTERM, at their lifetime, and clean up their filler file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def child(*args: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "ial_resilience.agent.stress_child", *args]
    return subprocess.Popen([*argv, "--parent", str(os.getpid())])


def test_disk_child_writes_the_file_and_removes_it_on_sigterm(tmp_path: Path) -> None:
    path = tmp_path / "fill"
    process = child("disk", "--path", str(path), "--bytes", str(3 << 20), "--lifetime", "60")
    try:
        deadline = time.monotonic() + 30
        while not (path.exists() and path.stat().st_size == 3 << 20):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        assert not path.exists()
    finally:
        process.kill()
        process.wait()


def test_cpu_child_stops_at_its_lifetime_by_itself() -> None:
    process = child("cpu", "--load", "5", "--lifetime", "0.3")
    try:
        assert process.wait(30) == 0
    finally:
        process.kill()
        process.wait()

"""``ialr demo`` end to end: a subprocess, as ``make demo`` runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(180)]


def test_demo_runs_both_experiments_and_stops_everything(tmp_path: Path) -> None:
    ialr = Path(sys.executable).parent / "ialr"
    done = subprocess.run(
        [str(ialr), "demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=150,
        env={**os.environ, "COLUMNS": "200"},
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "PASSED Orders API keeps p95 <= 150 ms with 20 ms latency" in out
    assert "DEVIATED Orders API keeps p95 <= 150 ms with 200 ms latency" in out
    assert "this is the finding the demo shows" in out
    assert "added delay p50" in out and "demo worked" in out
    journals = sorted((tmp_path / "journals").glob("*.json"))
    assert len(journals) == 2
    first, second = (json.loads(p.read_text()) for p in journals)
    assert first["schema"] == "ialr.journal/1" and first["status"] == "passed"
    assert second["status"] == "deviated" and second["complete"] is True
    delay = second["faults"][0]["evidence"]["agent_faults"][0]["added_delay_ms"]["p50"]
    assert 195 <= delay <= 215
    leftovers = [
        p.info["cmdline"]
        for p in psutil.process_iter(["cmdline"])
        if any("ialr-demo-" in part or "orders_service" in part for part in p.info["cmdline"] or [])
    ]
    assert leftovers == []

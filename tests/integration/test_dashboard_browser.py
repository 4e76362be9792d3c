"""``ialr dashboard`` in a real browser: headless Chromium (Debian's ``chromium``, installed
by ``make test``) loads each view from a running server and the charts hold one mark per
record; a screenshot of a run's timeline and of the score page is written to the test's tmp
directory.

The server is the real ``ialr dashboard`` process; the history behind it is
the real history store (INTERFACES §8).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ial_resilience import history as results
from ial_resilience.history import Record, RecordKind
from ial_resilience.history.score import resilience_score

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
JOURNAL = ROOT / "tests" / "data" / "journal_deviated.json"
CHROMIUM = os.environ.get("IALR_CHROMIUM", "/usr/bin/chromium")
RUNS = 12
BOUND_S = 30.0


def _chromium(tmp: Path, *args: str) -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs it (make test does)")
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={profile}", "--window-size=1100,1300", *args,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=BOUND_S, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _history(tmp: Path) -> Path:
    journal = shutil.copy(JOURNAL, tmp / "journal.json")
    records = []
    for i in range(RUNS):
        status = "deviated" if i in (3, RUNS - 1) else "passed"
        start = time.time() - (RUNS - i) * 86400.0  # the last 12 days, with the real store
        records.append(
            Record(
                id=f"run-{i:02d}",
                kind=RecordKind.CHAOS_RUN,
                key="catalog-latency",
                title="Catalog keeps answering with 600 ms latency to inventory",
                status=status,
                started_at=start,
                ended_at=start + 7.0,
                environment="lab",
                source=str(journal) if i == RUNS - 1 else None,
                figures={"passed": status == "passed", "time_to_recover_s": 0.5 + i % 5},
            )
        )
    path = tmp / "history.db"
    with results.HistoryStore.open(path) as store:
        store.add_many(records)
    return path


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[str]:
    history = _history(tmp_path)
    command = [sys.executable, "-m", "ial_resilience.cli.main", "dashboard", "--port", "0",
               "--history", str(history), "--json"]  # fmt: skip
    server = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert server.stdout is not None and server.stderr is not None
    out, err = server.stdout, server.stderr
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(out.readline()), daemon=True)
    reader.start()
    reader.join(BOUND_S)
    try:
        exited = server.poll() is not None
        assert first and first[0], f"no URL printed: {err.read() if exited else 'still starting'}"
        announced = json.loads(first[0])
        assert announced["runs"] == RUNS
        yield str(announced["url"]).rstrip("/")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            code = server.wait(BOUND_S)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            raise
    assert code == 0, err.read()  # Ctrl-C stops it cleanly


def test_every_view_renders_its_charts_with_data_in_chromium(
    dashboard: str, tmp_path: Path
) -> None:
    chaos = _chromium(tmp_path, "--dump-dom", f"{dashboard}/chaos")
    bars = re.findall(r'<rect class="bar (\w+)" data-run="(run-\d+)"', chaos)
    assert len(bars) == RUNS and {run for _, run in bars} == {f"run-{i:02d}" for i in range(RUNS)}
    assert [status for status, _ in bars].count("deviated") == 2

    run = _chromium(tmp_path, "--dump-dom", f"{dashboard}/chaos/run/run-{RUNS - 1:02d}")
    assert run.count('<rect class="fault"') == 2  # the fault window, on each probe's chart
    points = re.findall(r'<polyline class="avail" points="([^"]+)"', run)
    assert len(points) == 2 and all(len(p.split()) >= 2 for p in points)
    assert "network.latency" in run and "fault-reverted" in run

    score = _chromium(tmp_path, "--dump-dom", f"{dashboard}/score")
    assert score.count('<circle class="pt"') == 30  # one per evaluation of the trend
    with results.HistoryStore.open(tmp_path / "history.db") as store:
        expected = resilience_score(store.records(), time.time()).value
    assert expected is not None and re.search(rf'id="score">{expected:.1f}<', score)

    insights = _chromium(tmp_path, "--dump-dom", f"{dashboard}/insights")
    kpi_names = re.findall(r'data-kpi="(\w+)"', insights)
    assert "chaos_pass_rate" in kpi_names and "mttr" in kpi_names
    assert "no experiment in the history exercises" in insights  # the analyzer, for real

    for name, path in (("run", f"/chaos/run/run-{RUNS - 1:02d}"), ("score", "/score")):
        shot = tmp_path / f"dashboard-{name}.png"
        _chromium(tmp_path, f"--screenshot={shot}", f"{dashboard}{path}")
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000

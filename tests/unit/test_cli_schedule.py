"""``ialr schedule list | run`` through the CLI: next runs from the history, the bounds, and a
suite overlapping another (the suite lock) skipped with exit 4 — no real suite runs here."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from ial_resilience.cli.main import main
from ial_resilience.schedule.scheduler import suite_lock

EXPERIMENT = """\
version: 1
title: down
targets: {db: {link: api->db}}
steady_state:
  - probe: {tcp: {address: "${db}"}}
    tolerance: {success_rate: ">= 1"}
method:
  - {fault: network.down, target: db, duration: 1s}
"""


def suite(tmp_path: Path, cron: str = "0 3 * * *", extra: str = "") -> Path:
    (tmp_path / "down.yaml").write_text(EXPERIMENT)
    path = tmp_path / "suite.yaml"
    path.write_text(
        f"version: 1\ntitle: Nightly DB\nexperiments:\n  - path: down.yaml\n"
        f'schedule:\n  cron: "{cron}"\n{extra}'
    )
    return path


@pytest.fixture
def history() -> Any:
    """The history package (INTERFACES §8); these tests need it (it is built alongside)."""
    return pytest.importorskip("ial_resilience.history")


def record(history: Any, path: Path, started_at: float, status: str) -> None:
    HistoryStore, Record, RecordKind = history.HistoryStore, history.Record, history.RecordKind
    with HistoryStore.open(path) as store:
        store.add(
            Record(
                id=f"gd-{started_at}",
                kind=RecordKind.GAMEDAY,
                key="nightly-db",
                title="Nightly DB",
                status=status,
                started_at=started_at,
                ended_at=started_at + 60,
            )
        )


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["schedule", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_says_never_run_is_due_then_reads_the_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], _own_history: Path, history: Any
) -> None:
    path = suite(tmp_path, extra="  adaptive: {after_failure: 0.5}\n")
    code, out, _ = run(capsys, "list", str(path), "--json")
    assert code == 0
    (row,) = json.loads(out)["suites"]
    assert row["due"] is True and row["reason"] == "no run on record" and row["runs"] == 0
    now = time.time()
    record(history, _own_history, now - 60, "deviated")
    code, out, _ = run(capsys, "list", str(path), "--json")
    (row,) = json.loads(out)["suites"]
    assert row["runs"] == 1 and row["due"] is False
    assert "deviated" in row["reason"] or "cron" in row["reason"]
    code, out, _ = run(capsys, "list", str(path))
    assert code == 0 and "Nightly DB" in out and "1 run(s) on record" in out


def test_run_once_with_nothing_due_runs_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], _own_history: Path, history: Any
) -> None:
    path = suite(tmp_path, cron="0 3 * * *", extra="  min_interval: 6h\n")
    record(history, _own_history, time.time() - 10, "passed")
    code, out, _ = run(capsys, "run", str(path), "--once", "--state-dir", str(tmp_path / "s"))
    assert code == 0 and "nothing was due" in out


def test_run_overlapping_a_running_suite_is_skipped_with_exit_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], history: Any
) -> None:
    path, state = suite(tmp_path), tmp_path / "state"
    with suite_lock(state, "ialr ci chaos/quick-suite.yaml"):
        code, out, _ = run(capsys, "run", str(path), "--once", "--state-dir", str(state), "--json")
    assert code == 4
    outcome = json.loads(out.splitlines()[-1])
    assert outcome["action"] == "skipped" and "another run holds the lock" in outcome["reason"]
    logged = (state / "schedule" / "outcomes.jsonl").read_text().splitlines()
    assert json.loads(logged[-1])["action"] == "skipped"


def test_bad_input_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = suite(tmp_path, cron="0 25 * * *")
    code, _, err = run(capsys, "list", str(path))
    assert code == 3 and f"{path}:6:" in err and "5-field cron" in err
    code, _, err = run(capsys, "list", str(tmp_path / "missing.yaml"))
    assert code == 3 and "no suite file" in err
    good = suite(tmp_path)
    code, _, err = run(capsys, "run", str(good))
    assert code == 3 and "needs a bound" in err
    code, _, err = run(capsys, "run", str(good), "--for", "forever")
    assert code == 3 and "not a duration" in err


def test_help_teaches(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("list", "run", "deploy"):
        code, out, _ = run(capsys, command, "--help")
        assert code == 0 and "Example: ialr schedule" in out

"""The history store, the records each result becomes, and importing results from disk."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from ial_resilience.errors import ExitCode, InputError, StoreError
from ial_resilience.history import (
    HistoryStore,
    Record,
    RecordKind,
    import_paths,
    record_drill,
    record_gameday,
    record_journal,
    save,
)

T0 = 1_790_000_000.0


def journal(
    run_id: str,
    *,
    status: str = "passed",
    complete: bool = True,
    ttr: float | None = 1.5,
    title: str = "Kill one replica",
    fault: str = "process.kill",
    landed: bool = True,
    started: float = T0,
) -> dict[str, Any]:
    return {
        "schema": "ialr.journal/1",
        "run_id": run_id,
        "complete": complete,
        "experiment": {"title": title, "file": "x.yaml", "environment": "lab"},
        "provider": "local",
        "status": status,
        "reason": "the steady state held" if status == "passed" else "p95_ms=900 (<= 400)",
        "started_at": started,
        "ended_at": started + 20,
        "faults": [{"fault": fault, "applied": True, "landed": landed}],
        "time_to_recover_s": ttr,
        "time_to_abort_ms": None,
    }


def test_add_is_idempotent_and_records_filter(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path / "h.db") as store:
        first = record_journal(journal("r1"))
        assert store.add(first) is True
        assert store.add(first) is False  # the same id again changes nothing
        store.add_many([record_journal(journal(f"r{i}", started=T0 + i)) for i in range(2, 5)])
        assert store.count() == 4
        assert store.get("r1") == first
        assert store.get("nope") is None
        newest = store.records(kind=RecordKind.CHAOS_RUN, newest_first=True, limit=2)
        assert [r.id for r in newest] == ["r4", "r3"]
        assert [r.id for r in store.records(since=T0 + 3)] == ["r3", "r4"]


def test_a_journal_becomes_a_chaos_run_and_an_incomplete_one_is_never_a_pass() -> None:
    run = record_journal(journal("r1"), "j/r1.json")
    assert run.kind is RecordKind.CHAOS_RUN and run.key == "kill-one-replica"
    assert run.figures["passed"] is True and run.figures["time_to_recover_s"] == 1.5
    assert run.data["families"] == ["process"] and run.source == "j/r1.json"
    killed = record_journal(journal("r2", complete=False))
    assert killed.status == "incomplete" and killed.figures["passed"] is False
    with pytest.raises(InputError, match="not a run journal"):
        record_journal({"schema": "other"})


def test_a_corrupt_history_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    path.write_bytes(b"this is not sqlite" * 100)
    before = path.read_bytes()
    with pytest.raises(StoreError) as caught, HistoryStore.open(path):
        pass
    assert caught.value.exit_code == ExitCode.PROVIDER_ERROR
    assert (
        "not a usable history file" in caught.value.message and "move it aside" in caught.value.hint
    )
    assert path.read_bytes() == before


def test_a_locked_history_says_so_after_the_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    with HistoryStore.open(path):
        pass
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with (
            pytest.raises(StoreError, match=r"stayed locked for 0\.2 s"),
            HistoryStore.open(path, busy_timeout=0.2) as store,
        ):
            store.add(record_journal(journal("r1")))
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_save_warns_instead_of_failing_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "h.db"
    bad.write_text("garbage" * 100)
    assert save([record_journal(journal("r1"))], bad) == 0
    assert "Warning: not recorded in the history" in capsys.readouterr().err


def _gameday(tmp_path: Path) -> Path:
    paths = []
    for i, (status, alerts) in enumerate((("passed", []), ("deviated", [{"rule": "x"}]))):
        path = tmp_path / f"j{i}.json"
        path.write_text(json.dumps(journal(f"g{i}", status=status, started=T0 + 30 * i)))
        paths.append((path, alerts))
    report = {
        "schema": "ialr.gameday/1",
        "title": "Quick game day",
        "started_at": T0,
        "ended_at": T0 + 90,
        "kpis": {
            "worst_status": "deviated",
            "availability": 0.998,
            "requests": 2000,
            "requests_failed": 4,
            "chaos_pass_rate": 0.5,
            "mttr_mean_s": 1.5,
            "alert_accuracy": 0.6,
            "alert_false_positive_rate": 0.0,
            "experiments": 2,
        },
        "alerts": {
            "evaluated": True,
            "accuracy": {
                "overall": {
                    "accuracy": 0.6,
                    "false_positive_rate": 0.0,
                    "windows": 2,
                    "detected": 1,
                }
            },
        },
        "experiments": [{"journal": str(p), "alerts": a} for p, a in paths],
    }
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    return path


def test_a_game_day_records_itself_its_runs_and_its_alert_accuracy(tmp_path: Path) -> None:
    path = _gameday(tmp_path)
    day, *rest = record_gameday(json.loads(path.read_text()), path)
    runs = [r for r in rest if r.kind is RecordKind.CHAOS_RUN]
    (alerts,) = [r for r in rest if r.kind is RecordKind.ALERT_ACCURACY]
    assert day.kind is RecordKind.GAMEDAY and day.figures["requests"] == 2000
    assert [r.parent_id for r in runs] == [day.id, day.id]
    assert [r.data["alerts_fired"] for r in runs] == [0, 1]
    assert alerts.figures["accuracy"] == 0.6 and alerts.status == "failed"


def test_import_skips_what_is_there_and_names_what_it_cannot_read(tmp_path: Path) -> None:
    _gameday(tmp_path)
    drill = {
        "scenario": "writer-lost",
        "started_at": "2026-12-01T10:00:00Z",
        "status": "passed",
        "rto_s": 6.1,
        "rpo_s": 0.0,
        "rto_target_s": 900,
    }
    (tmp_path / "drill.json").write_text(json.dumps(drill))
    (tmp_path / "truncated.json").write_text('{"schema": "ialr.journal/1", "run_id": "x", "st')
    with HistoryStore.open(tmp_path / "h.db") as store:
        first = import_paths([tmp_path], store)
        again = import_paths([tmp_path, tmp_path / "missing.json"], store)
        kinds = sorted(r.kind.value for r in store.records())
    # the two journals are read twice (on their own and through report.json): added once
    assert first.added == 5 and first.skipped == 2
    assert [p for p in first.problems if "truncated.json" in p and "not JSON" in p]
    assert again.added == 0 and any("missing.json" in p for p in again.problems)
    assert kinds == ["alert_accuracy", "chaos_run", "chaos_run", "gameday", "recovery_drill"]


def test_a_drill_result_becomes_a_recovery_drill() -> None:
    local = record_drill(
        {
            "scenario": "dropped-table",
            "started_at": "2026-12-01T10:00:00+00:00",
            "status": "failed",
            "rto_s": 30.0,
            "rpo_s": 2.0,
            "lab": True,
        }
    )
    assert local.kind is RecordKind.RECOVERY_DRILL and local.key == "dropped-table"
    assert local.figures["passed"] is False and local.environment == "lab"
    aws = record_drill(
        {
            "scenario": "aws-dynamodb-pitr",
            "started_at": "2026-12-01T10:00:00Z",
            "passed": True,
            "rto_s": 4.0,
            "rpo_s": None,
        }
    )
    assert aws.provider == "aws" and aws.status == "passed"


def test_record_json_round_trip() -> None:
    record = Record(
        "x",
        RecordKind.ROLLOUT,
        "api",
        "t",
        "rolled_back",
        T0,
        T0 + 1,
        figures={"rolled_back": True},
        data={"version": "v2"},
    )
    assert Record.from_json(json.loads(json.dumps(record.to_json()))) == record


def test_a_deploy_decision_record_becomes_a_rollout() -> None:
    from ial_resilience.history import record_rollout

    decision = {
        "id": "rollout-1",
        "service": "api",
        "version": "v2-errors",
        "previous": "v1",
        "executor": "lab",
        "status": "rolled_back",
        "times": {"started_at": T0, "ended_at": T0 + 12},
        "figures": {
            "rolled_back": True,
            "rollback_ok": True,
            "time_to_detect_s": 6.1,
            "time_to_rollback_s": 1.0,
            "false_rollback": False,
        },
    }
    rollout = record_rollout(decision, "rollouts/rollout-1.json")
    assert rollout.kind is RecordKind.ROLLOUT and rollout.started_at == T0
    assert rollout.ended_at == T0 + 12 and rollout.figures["rollback_ok"] is True
    assert rollout.data["version"] == "v2-errors"

"""``ialr backup`` and ``ialr recovery`` through the CLI entry point: exit codes and output."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ial_resilience.backup import drills
from ial_resilience.backup.drills import DrillResult, DrillStatus, Scenario, record
from ial_resilience.cli.main import main
from tests.unit.test_backup_repository import make_sqlite, make_tree

Capture = pytest.CaptureFixture[str]


def run_json(capsys: Capture, *argv: str) -> object:
    code = main([*argv, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_run_list_verify_restore_a_directory(tmp_path: Path, capsys: Capture) -> None:
    source, repo = make_tree(tmp_path / "src"), str(tmp_path / "repo")
    made = run_json(capsys, "backup", "run", str(source), "--repo", repo, "--compress", "zstd")
    assert isinstance(made, dict) and made["kind"] == "directory"
    listed = run_json(capsys, "backup", "list", "--repo", repo)
    assert [b["id"] for b in listed] == [made["id"]]  # type: ignore[union-attr, index]
    report = run_json(capsys, "backup", "verify", "latest", "--repo", repo)
    assert isinstance(report, dict) and report["backup"] == made["id"] and report["passed"]
    assert [(c["name"], c["status"]) for c in report["checks"]] == [
        ("checksums", "passed"), ("restore", "passed")]  # fmt: skip
    assert main(["backup", "restore", made["id"], "--repo", repo,
                 "--target", str(tmp_path / "out")]) == 0  # fmt: skip
    assert "restored" in capsys.readouterr().out
    assert (tmp_path / "out" / "sub" / "deeper" / "c.json").read_text() == '{"k": 1}'


def test_human_output_of_run_and_list(tmp_path: Path, capsys: Capture) -> None:
    db, repo = make_sqlite(tmp_path / "app.sqlite"), str(tmp_path / "repo")
    assert main(["backup", "run", str(db), "--repo", repo]) == 0
    assert "complete: 1 files" in capsys.readouterr().out
    assert main(["backup", "list", "--repo", repo]) == 0
    assert "sqlite" in capsys.readouterr().out


@pytest.mark.parametrize("columns", [80, 130])
def test_list_keeps_the_id_and_source_whole_on_any_terminal(
    columns: int, tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, repo = make_tree(tmp_path / "a-rather-long-source-directory"), str(tmp_path / "r")
    made = run_json(capsys, "backup", "run", str(source), "--repo", repo)
    assert isinstance(made, dict)
    monkeypatch.setenv("COLUMNS", str(columns))
    assert main(["backup", "list", "--repo", repo]) == 0
    out = capsys.readouterr().out
    assert made["id"] in out and max(len(line) for line in out.splitlines()) <= columns
    rows = [line.split("│") for line in out.splitlines() if line.startswith("│")]
    column = 3 if columns >= 110 else 2  # the source column, folded over lines when narrow
    assert "".join(row[column].strip() for row in rows) == str(source.absolute())
    assert ("started (UTC)" in out) == (columns >= 110)  # wide: kind and start time too


def test_verify_of_a_damaged_backup_exits_5_and_names_the_file(
    tmp_path: Path, capsys: Capture
) -> None:
    db, repo = make_sqlite(tmp_path / "app.sqlite"), tmp_path / "repo"
    made = run_json(capsys, "backup", "run", str(db), "--repo", str(repo))
    damaged = repo / "backups" / str(made["id"]) / "database.sqlite"  # type: ignore[index]
    damaged.write_bytes(damaged.read_bytes()[:-1] + b"\x01")
    assert main(["backup", "verify", "--repo", str(repo)]) == 5
    captured = capsys.readouterr()
    assert "database.sqlite: SHA-256 differs" in captured.err
    assert "failed" in captured.out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["backup", "run", "/no/such/source", "--repo", "R"], "neither a PostgreSQL DSN"),
        (["backup", "run", ".", "--repo", "R", "--kind", "tape"], "unknown source kind"),
        (["backup", "run", ".", "--repo", "R", "--compress", "lz9"], "--compress"),
        (["backup", "run", ".", "--repo", "R", "--max-bytes", "lots"], "--max-bytes"),
        (["backup", "run", ".", "--repo", "R", "--snapshot", "some"], "--snapshot"),
        (["backup", "list", "--repo", "/no/such/repo"], "no repository"),
        (["backup", "prune", "--repo", "."], "no retention rule"),
        (["recovery", "test", "meteor-strike"], "unknown recovery scenario"),
    ],
)
def test_bad_input_exits_3(argv: list[str], message: str, capsys: Capture) -> None:
    assert main(argv) == 3
    assert message in capsys.readouterr().err


def test_restore_time_needs_a_zone_and_a_physical_backup(tmp_path: Path, capsys: Capture) -> None:
    repo = str(tmp_path / "repo")
    run_json(capsys, "backup", "run", str(make_tree(tmp_path / "src")), "--repo", repo)
    base = ["backup", "restore", "latest", "--repo", repo, "--target", str(tmp_path / "o")]
    assert main([*base, "--to", "2026-11-25T10:00:00"]) == 3
    assert "has no time zone" in capsys.readouterr().err
    assert main([*base, "--to", "yesterday"]) == 3
    assert "ISO 8601" in capsys.readouterr().err
    assert main([*base, "--to", "2026-11-25T10:00:00Z"]) == 3
    assert "needs a physical PostgreSQL backup" in capsys.readouterr().err


def test_prune_dry_run_lists_and_keeps_then_prunes(tmp_path: Path, capsys: Capture) -> None:
    source, repo = make_tree(tmp_path / "src"), str(tmp_path / "repo")
    ids = [run_json(capsys, "backup", "run", str(source), "--repo", repo)["id"]  # type: ignore[index]
           for _ in range(3)]  # fmt: skip
    plan = run_json(capsys, "backup", "prune", "--repo", repo, "--keep-last", "1", "--dry-run")
    assert plan["remove"] == sorted(ids[:2]) and list(plan["keep"]) == [ids[2]]  # type: ignore[index, call-overload]
    assert len(run_json(capsys, "backup", "list", "--repo", repo)) == 3  # type: ignore[arg-type]
    assert main(["backup", "prune", "--repo", repo, "--keep-last", "1"]) == 0
    assert f"removed {ids[0]}" in capsys.readouterr().out
    listed = run_json(capsys, "backup", "list", "--repo", repo)
    assert [b["id"] for b in listed] == [ids[2]]  # type: ignore[union-attr, index]


def test_recovery_docs_are_generated_from_the_history(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IALR_STATE_DIR", str(tmp_path / "state"))
    drilled = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    result = DrillResult(
        scenario=Scenario.WRITER_LOST, started_at=drilled, status=DrillStatus.PASSED,
        rto_s=2.5, rpo_s=0.04, data_ok=True, database_bytes=8 << 20, wal_segments=2,
        detail="orders identical",
    )  # fmt: skip
    record(result)
    out = tmp_path / "RECOVERY_PROCEDURES.md"
    assert main(["recovery", "docs", "--out", str(out)]) == 0
    assert "1 of 3 scenarios drilled" in capsys.readouterr().out
    text = out.read_text()
    assert "ialr recovery test writer-lost" in text
    assert "| RTO (disaster → application answers) | 2.5s" in text
    assert "| RPO (last committed write lost) | 40ms" in text
    assert "2026-11-25 09:00 UTC" in text
    assert text.count("_Not drilled yet") == 2


def test_recovery_docs_read_the_state_dir_the_drills_recorded_in(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IALR_STATE_DIR", str(tmp_path / "elsewhere"))
    result = DrillResult(
        scenario=Scenario.CORRUPTION, started_at=datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
        status=DrillStatus.PASSED, rto_s=1.5, rpo_s=0.0, data_ok=True,
        database_bytes=8 << 20, wal_segments=1,
    )  # fmt: skip
    record(result, drills.history_dir(tmp_path / "lab-state"))  # as `recovery test --state-dir`
    out = tmp_path / "RECOVERY_PROCEDURES.md"
    argv = ["recovery", "docs", "--out", str(out), "--state-dir", str(tmp_path / "lab-state")]
    assert main(argv) == 0
    assert "1 of 3 scenarios drilled" in capsys.readouterr().out
    assert main(["recovery", "docs", "--out", str(out)]) == 0  # $IALR_STATE_DIR: none there
    assert "0 of 3 scenarios drilled" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["run", "list", "verify", "restore", "prune"])
def test_help_of_every_repository_command_documents_s3(command: str, capsys: Capture) -> None:
    assert main(["backup", command, "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "s3://BUCKET/PREFIX" in out
    assert "--region" in out and "--profile" in out and "--endpoint-url" in out


def test_group_help_says_what_an_s3_repository_is(capsys: Capture) -> None:
    assert main(["backup", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "an interrupted backup is never listed as complete" in out

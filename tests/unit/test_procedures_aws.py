"""The AWS drills in RECOVERY_PROCEDURES.md: one procedure per AWS scenario, with the figures of
its last recorded drill, read from the history directory the PostgreSQL drills share."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ial_resilience.aws.history import AwsScenario, DrillResult, latest_results, record
from ial_resilience.backup import drills, procedures
from ial_resilience.cli.main import main

Capture = pytest.CaptureFixture[str]
DOC = Path(__file__).resolve().parents[2] / "docs" / "RECOVERY_PROCEDURES.md"


def _dynamodb(started: str, *, items: int = 25, matches: bool = True) -> DrillResult:
    details: dict[str, Any] = {
        "table": "orders", "scratch_table": "orders-ialr-drill-1a2b3c4d",
        "items_source": items, "items_restored": items if matches else items - 1,
        "hash_source": "ab" * 32, "hash_restored": "ab" * 32 if matches else "cd" * 32,
        "content_matches": matches, "restore_s": 1.234, "verify_s": 0.05,
        "window_wait_s": 0.0, "rto_target_s": 900.0,
        "endpoint": "http://127.0.0.1:5000 (region us-east-1)",
    }  # fmt: skip
    return DrillResult(AwsScenario.DYNAMODB_PITR, started, 1.234, 0.0, matches, details)


def _s3(started: str, *, matches: bool) -> DrillResult:
    details: dict[str, Any] = {
        "bucket": "media", "key": "logo.png", "drill_key": "ialr-drill/x/logo.png",
        "sha256_original": "12" * 32, "sha256_restored": "12" * 32 if matches else "34" * 32,
        "content_matches": matches, "rto_target_s": 900.0, "endpoint": "AWS (region eu-west-1)",
    }  # fmt: skip
    return DrillResult(AwsScenario.S3_PREVIOUS_VERSION, started, 0.045,
                       0.0 if matches else None, matches, details)  # fmt: skip


def _local(scenario: drills.Scenario) -> drills.DrillResult:
    return drills.DrillResult(
        scenario=scenario, started_at=datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
        status=drills.DrillStatus.PASSED, rto_s=2.5, rpo_s=0.0, data_ok=True,
    )  # fmt: skip


def test_latest_results_takes_the_newest_aws_drill_and_skips_the_others(tmp_path: Path) -> None:
    record(_dynamodb("2026-11-25T08:00:00.000Z", items=10), tmp_path)
    record(_dynamodb("2026-11-25T09:30:00.000Z", items=30), tmp_path)
    drills.record(_local(drills.Scenario.WRITER_LOST), tmp_path)
    (tmp_path / "20261125T100000000000Z-aws-dynamodb-pitr.json").write_text("{truncated")
    unknown = {"scenario": "aws-unknown", "started": "x", "rto_s": 1, "rpo_s": 0, "passed": True}
    (tmp_path / "20261125T100000000001Z-aws-unknown.json").write_text(json.dumps(unknown))
    found = latest_results(tmp_path)
    assert list(found) == [AwsScenario.DYNAMODB_PITR]
    assert found[AwsScenario.DYNAMODB_PITR].details["items_source"] == 30
    # the PostgreSQL reader, on the same directory, sees only its own drill
    assert list(drills.latest_results(tmp_path)) == [drills.Scenario.WRITER_LOST]
    assert latest_results(tmp_path / "missing") == {}


def test_a_history_file_written_before_this_reader_is_read(tmp_path: Path) -> None:
    """The exact shape `record` wrote from the start (both field sets, plain string scenario)."""
    old = {
        "scenario": "aws-s3-previous-version", "started": "2026-11-24T12:00:00.000Z",
        "rto_s": 0.2, "rpo_s": 0.0, "passed": True,
        "details": {"bucket": "b", "key": "k", "content_matches": True, "rto_target_s": 900.0},
        "started_at": "2026-11-24T12:00:00.000Z", "status": "passed", "rto_target_s": 900.0,
        "data_ok": True, "detail": "AWS drill at AWS",
    }  # fmt: skip
    (tmp_path / "20261124T120000000000Z-aws-s3-previous-version.json").write_text(json.dumps(old))
    result = latest_results(tmp_path)[AwsScenario.S3_PREVIOUS_VERSION]
    assert (result.started, result.rto_s, result.passed) == ("2026-11-24T12:00:00.000Z", 0.2, True)


def test_never_drilled_aws_scenarios_say_so() -> None:
    text = procedures.render({})
    for procedure in procedures.AWS_PROCEDURES.values():
        assert f"## {procedure.title}" in text
        assert f"Drill: `{procedure.drill}`" in text
    assert text.count("_Never drilled: run the command above._") == len(AwsScenario)


def test_a_drilled_dynamodb_restore_shows_its_figures() -> None:
    drilled = {AwsScenario.DYNAMODB_PITR: _dynamodb("2026-11-25T09:30:00.000Z")}
    text = procedures.render({}, aws=drilled)
    section = text.split("## DynamoDB items deleted")[1].split("\n## ")[0]
    assert "ialr recovery aws dynamodb TABLE" in section
    assert "| last drill | 2026-11-25 09:30 UTC |" in section
    assert (
        "| restore time (restore accepted → scratch table ACTIVE) | 1.2s (target ≤ 15m00s) |"
        in section
    )
    assert "25 items in the table, 25 restored; content SHA-256 matches (abababababab…)" in section
    assert "`orders` at http://127.0.0.1:5000 (region us-east-1)" in section
    assert text.count("_Never drilled") == 1  # S3 still is not


def test_a_failed_s3_drill_shows_the_differing_hashes() -> None:
    drilled = {AwsScenario.S3_PREVIOUS_VERSION: _s3("2026-11-25T10:00:00.000Z", matches=False)}
    section = procedures.render({}, aws=drilled).split("## An S3 object")[1]
    assert "| result | failed |" in section
    assert "SHA-256 DIFFERS: original 121212121212…, restored 343434343434…" in section
    assert "| RPO (the previous version's bytes lost) | n/a |" in section
    assert "`s3://media/logo.png` at AWS (region eu-west-1)" in section


def test_recovery_docs_renders_local_and_aws_drills_from_one_history(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IALR_STATE_DIR", str(tmp_path / "state"))
    drills.record(_local(drills.Scenario.DROPPED_TABLE))
    record(_s3("2026-11-25T10:00:00.000Z", matches=True))
    out = tmp_path / "RECOVERY_PROCEDURES.md"
    assert main(["recovery", "docs", "--out", str(out)]) == 0
    assert "1 of 3 scenarios drilled; AWS: 1 of 2" in capsys.readouterr().out
    text = out.read_text()
    assert "| RTO (disaster → application answers) | 2.5s" in text
    assert "SHA-256 of the restored version matches the original (121212121212…)" in text
    assert text.count("_Never drilled") == 1 and text.count("_Not drilled yet") == 2


def test_the_checked_in_document_has_every_procedure_of_the_code() -> None:
    """docs/RECOVERY_PROCEDURES.md is regenerated by `ialr recovery docs` whenever a scenario or
    a procedure's text changes: every heading and step the code renders is in it."""
    rendered, checked_in = procedures.render({}), DOC.read_text()
    steps = [line for line in rendered.splitlines()
             if line.startswith(("## ", "Drill: ")) or re.match(r"\d+\. ", line)]  # fmt: skip
    assert steps and [line for line in steps if line not in checked_in] == []

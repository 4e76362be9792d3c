"""DynamoDB PITR, on-demand backups and the restore drill, over HTTP against a moto server."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from ial_resilience.aws import dynamodb, dynamodb_drill
from ial_resilience.aws._session import AwsNotFound, AwsTarget, client
from ial_resilience.cli.main import main
from ial_resilience.errors import InputError
from tests.aws_fixtures import aws_env, moto_endpoint  # noqa: F401

pytestmark = pytest.mark.aws


def _table(target: AwsTarget, items: int = 25) -> str:
    name = f"orders-{uuid.uuid4().hex[:8]}"
    ddb = client("dynamodb", target)
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    requests = [
        {"PutRequest": {"Item": {"id": {"S": f"o-{i}"}, "total": {"N": str(i * 3)},
                                 "tags": {"SS": ["a", "b"]}}}}
        for i in range(items)
    ]  # fmt: skip
    for start in range(0, items, 25):  # BatchWriteItem takes 25 items at most
        ddb.batch_write_item(RequestItems={name: requests[start : start + 25]})
    return name


def _tables(target: AwsTarget) -> list[str]:
    return list(client("dynamodb", target).list_tables()["TableNames"])


@pytest.fixture
def table(aws_env: AwsTarget) -> str:  # noqa: F811
    return _table(aws_env)


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IALR_STATE_DIR", str(tmp_path))
    return tmp_path


def _cli(capsys: pytest.CaptureFixture[str], target: AwsTarget, *args: str) -> tuple[int, str]:
    code = main([*args, "--endpoint-url", str(target.endpoint_url), "--region", "us-east-1"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_enable_pitr_then_status_shows_the_window(aws_env: AwsTarget, table: str) -> None:  # noqa: F811
    assert not dynamodb.pitr_status(aws_env, table).enabled
    status = dynamodb.enable_pitr(aws_env, table, recovery_days=7)
    assert status.enabled and status.recovery_days == 7
    assert status.earliest is not None and status.latest is not None
    assert dynamodb.enable_pitr(aws_env, table).enabled  # idempotent


def test_recovery_days_out_of_range_is_refused(aws_env: AwsTarget, table: str) -> None:  # noqa: F811
    with pytest.raises(InputError, match="1 to 35"):
        dynamodb.enable_pitr(aws_env, table, recovery_days=36)


def test_pitr_of_a_missing_table_names_the_table(aws_env: AwsTarget) -> None:  # noqa: F811
    with pytest.raises(AwsNotFound, match="'no-such-table'"):
        dynamodb.pitr_status(aws_env, "no-such-table")


def test_on_demand_backup_is_listed(aws_env: AwsTarget, table: str) -> None:  # noqa: F811
    made = dynamodb.create_backup(aws_env, table, name=f"{table}-manual")
    assert made.status == "AVAILABLE"
    listed = dynamodb.list_backups(aws_env, table)
    assert [b.arn for b in listed] == [made.arn]
    assert listed[0].name == f"{table}-manual"


def test_restore_drill_matches_content_and_removes_the_scratch_table(
    aws_env: AwsTarget,  # noqa: F811
    table: str,
) -> None:
    dynamodb.enable_pitr(aws_env, table)
    result = dynamodb_drill.run_drill(aws_env, table)
    assert result.passed
    details = result.details
    assert details["items_source"] == details["items_restored"] == 25
    assert details["hash_source"] == details["hash_restored"]
    assert details["hash_source"] == dynamodb.table_fingerprint(aws_env, table).sha256
    assert result.rto_s is not None and result.rto_s >= 0
    assert details["scratch_table"] not in _tables(aws_env)
    assert table in _tables(aws_env)


def test_drill_refuses_without_pitr_and_creates_nothing(
    aws_env: AwsTarget,  # noqa: F811
    table: str,
) -> None:
    before = set(_tables(aws_env))
    with pytest.raises(InputError, match="not enabled"):
        dynamodb_drill.run_drill(aws_env, table)
    assert set(_tables(aws_env)) == before


def test_cli_pitr_status_enable_backup_and_list(
    aws_env: AwsTarget,  # noqa: F811
    table: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = _cli(capsys, aws_env, "backup", "aws", "pitr-status", table)
    assert code == 1 and "DISABLED" in out and f"enable-pitr {table}" in out
    code, out = _cli(capsys, aws_env, "backup", "aws", "enable-pitr", table, "--json")
    assert code == 0 and json.loads(out)["enabled"] is True
    code, out = _cli(capsys, aws_env, "backup", "aws", "pitr-status", table)
    assert code == 0 and "ENABLED" in out
    code, out = _cli(capsys, aws_env, "backup", "aws", "dynamodb-backup", table, "--name", "b1")
    assert code == 3 and "BackupName" in out  # AWS wants 3+ characters: refused before sending
    code, out = _cli(
        capsys, aws_env, "backup", "aws", "dynamodb-backup", table, "--name", "nightly"
    )
    assert code == 0 and "nightly: AVAILABLE" in out
    code, out = _cli(capsys, aws_env, "backup", "aws", "dynamodb-backups", table, "--json")
    assert code == 0 and [b["name"] for b in json.loads(out)] == ["nightly"]


def test_cli_drill_prints_json_and_records_history(
    aws_env: AwsTarget,  # noqa: F811
    table: str,
    state_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dynamodb.enable_pitr(aws_env, table)
    code, out = _cli(capsys, aws_env, "recovery", "aws", "dynamodb", table, "--json")
    assert code == 0, out
    report: dict[str, Any] = json.loads(out)
    assert report["scenario"] == "aws-dynamodb-pitr" and report["passed"] is True
    recorded = Path(report["recorded"])
    assert recorded.parent == state_dir / "history" / "recovery"
    saved = json.loads(recorded.read_text())
    assert set(saved) >= {"scenario", "started", "rto_s", "rpo_s", "passed", "details"}
    assert saved["details"]["items_restored"] == 25


def test_cli_drill_table_output_and_bad_duration(
    aws_env: AwsTarget,  # noqa: F811
    table: str,
    state_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dynamodb.enable_pitr(aws_env, table)
    code, out = _cli(capsys, aws_env, "recovery", "aws", "dynamodb", table, "--no-record")
    assert code == 0 and "PASS" in out and "matches" in out
    assert not (state_dir / "history").exists()
    code, out = _cli(capsys, aws_env, "recovery", "aws", "dynamodb", table, "--rto-target", "15")
    assert code == 3 and "--rto-target" in out


def test_cli_drill_without_pitr_is_invalid_input(
    aws_env: AwsTarget,  # noqa: F811
    table: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = _cli(capsys, aws_env, "recovery", "aws", "dynamodb", table)
    assert code == 3
    assert "point-in-time recovery is not enabled" in out and "Hint:" in out


def test_scratch_removal_deletes_and_tolerates_a_table_already_gone(
    aws_env: AwsTarget,  # noqa: F811
) -> None:
    scratch = _table(aws_env, items=1)
    dynamodb_drill.remove_scratch(aws_env, scratch, timeout_s=30)
    assert scratch not in _tables(aws_env)
    dynamodb_drill.remove_scratch(aws_env, scratch, timeout_s=30)


def test_cli_drill_slower_than_its_target_fails_with_exit_1(
    aws_env: AwsTarget,  # noqa: F811
    table: str,
    state_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dynamodb.enable_pitr(aws_env, table)
    code, out = _cli(capsys, aws_env, "recovery", "aws", "dynamodb", table, "--rto-target", "1us")
    assert code == 1 and "FAIL" in out
    saved = json.loads(next((state_dir / "history" / "recovery").glob("*.json")).read_text())
    assert saved["passed"] is False and saved["details"]["content_matches"] is True

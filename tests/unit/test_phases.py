"""The checked-in phases are exactly what the code renders, and cfn-lint finds nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cfnlint.decode import decode_str

from ial_resilience.aws import phases
from ial_resilience.cli.main import main

PHASES_DIR = Path(__file__).resolve().parents[2] / "phases"
_CFN_LINT = "import sys; from cfnlint.runner import main; sys.exit(main())"


@pytest.mark.parametrize("name", sorted(phases.PHASES))
def test_checked_in_phase_matches_the_renderer(name: str) -> None:
    path = PHASES_DIR / phases.get_phase(name).filename
    assert path.is_file(), f"{path} is missing: run `ialr backup aws render-phase {name}`"
    assert path.read_text() == phases.render_phase(name), (
        f"{path} drifted from the renderer: run `ialr backup aws render-phase {name}`"
    )


@pytest.mark.parametrize("name", sorted(phases.PHASES))
def test_cfn_lint_finds_no_error_or_warning(name: str) -> None:
    path = PHASES_DIR / phases.get_phase(name).filename
    linted = subprocess.run(
        [sys.executable, "-c", _CFN_LINT, "--format", "parseable", str(path)],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert linted.stdout.strip() == ""


def test_drift_is_detected(tmp_path: Path) -> None:
    name = "00d-backup-strategy"
    assert phases.drifted(name, tmp_path)
    path = phases.write_phase(name, tmp_path)
    assert not phases.drifted(name, tmp_path)
    path.write_text(path.read_text().replace("DeleteAfterDays", "DeleteAfterDayz", 1))
    assert phases.drifted(name, tmp_path)


def _00d() -> dict:  # type: ignore[type-arg]
    decoded, matches = decode_str(phases.render_phase_00d())
    assert matches == [] and decoded is not None
    return dict(decoded)


def test_00d_plan_has_daily_weekly_monthly_rules_into_the_vault() -> None:
    rules = _00d()["Resources"]["BackupPlan"]["Properties"]["BackupPlan"]["BackupPlanRule"]
    assert [rule["RuleName"] for rule in rules] == ["daily", "weekly", "monthly"]
    assert all(rule["TargetBackupVault"] == {"Ref": "BackupVault"} for rule in rules)
    assert "MoveToColdStorageAfterDays" in rules[2]["Lifecycle"]


def test_00d_selects_by_tag_and_reports_failures_to_sns() -> None:
    resources = _00d()["Resources"]
    selection = resources["BackupSelectionByTag"]["Properties"]["BackupSelection"]
    assert selection["ListOfTags"][0]["ConditionKey"] == {"Ref": "BackupTagKey"}
    vault = resources["BackupVault"]["Properties"]
    assert vault["Notifications"]["SNSTopicArn"] == {"Ref": "BackupFailureTopic"}
    assert "BACKUP_JOB_FAILED" in vault["Notifications"]["BackupVaultEvents"]
    assert vault["EncryptionKeyArn"] == {"Fn::GetAtt": ["BackupKey", "Arn"]}


def test_00d_table_pitr_comes_from_parameters() -> None:
    spec = _00d()["Resources"]["DrillHistoryTable"]["Properties"][
        "PointInTimeRecoverySpecification"
    ]
    assert spec["PointInTimeRecoveryEnabled"] == {"Fn::If": ["PitrEnabled", True, False]}
    assert spec["RecoveryPeriodInDays"]["Fn::If"][1] == {"Ref": "PointInTimeRecoveryDays"}


def test_00d_bucket_versioning_lifecycle_and_replication_with_rtc() -> None:
    bucket = _00d()["Resources"]["DataBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    rule = bucket["LifecycleConfiguration"]["Rules"][0]
    assert set(rule) >= {"NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload"}
    replication = bucket["ReplicationConfiguration"]["Fn::If"][1]
    destination = replication["Rules"][0]["Destination"]
    assert destination["ReplicationTime"] == {"Status": "Enabled", "Time": {"Minutes": 15}}
    assert replication["Role"] == {"Fn::GetAtt": ["ReplicationRole", "Arn"]}


def test_cli_render_phase_then_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = str(tmp_path / "phases")
    assert main(["backup", "aws", "render-phase", "--output-dir", out_dir]) == 0
    assert "00d-backup-strategy.yaml" in capsys.readouterr().out
    assert main(["backup", "aws", "render-phase", "--check", "--output-dir", out_dir]) == 0
    assert "up to date" in capsys.readouterr().out
    path = tmp_path / "phases" / "00d-backup-strategy.yaml"
    path.write_text(path.read_text() + "# edited by hand\n")
    assert main(["backup", "aws", "render-phase", "--check", "--output-dir", out_dir]) == 1
    assert "DRIFTED" in capsys.readouterr().out


def test_cli_unknown_phase_is_invalid_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backup", "aws", "render-phase", "00z-nothing", "--check"]) == 3
    err = capsys.readouterr().err
    assert "no phase named '00z-nothing'" in err and "00d-backup-strategy" in err

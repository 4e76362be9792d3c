"""S3 versioning, lifecycle, replication with RTC, audit and the restore drill, over HTTP
against a moto server."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest

from ial_resilience.aws import s3, s3_audit, s3_drill
from ial_resilience.aws._session import AwsNotFound, AwsTarget, client
from ial_resilience.cli.main import main
from ial_resilience.errors import InputError
from tests.aws_fixtures import aws_env, moto_endpoint  # noqa: F401

pytestmark = pytest.mark.aws
REPLICA_REGION = "us-west-2"


def _bucket(target: AwsTarget, prefix: str = "data", region: str = "us-east-1") -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    s3c = client("s3", target.in_region(region))
    if region == "us-east-1":
        s3c.create_bucket(Bucket=name)
    else:
        s3c.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    return name


def _compliant_pair(target: AwsTarget) -> tuple[str, str]:
    """A source bucket in policy (versioned, lifecycle, replicated with RTC) and its replica."""
    source = _bucket(target, "src")
    replica = _bucket(target, "replica", REPLICA_REGION)
    s3.enable_versioning(target, source)
    s3.enable_versioning(target.in_region(REPLICA_REGION), replica)
    s3.put_backup_lifecycle(target, source, noncurrent_days=30, abort_multipart_days=7)
    role = s3.create_replication_role(target, f"repl-{source}", source, replica)
    s3.put_replication(target, source, replica, role)
    return source, replica


def _cli(capsys: pytest.CaptureFixture[str], target: AwsTarget, *args: str) -> tuple[int, str]:
    code = main([*args, "--endpoint-url", str(target.endpoint_url), "--region", "us-east-1"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_versioning_off_then_enabled(aws_env: AwsTarget) -> None:  # noqa: F811
    bucket = _bucket(aws_env)
    assert s3.versioning(aws_env, bucket) is s3.Versioning.OFF
    assert s3.enable_versioning(aws_env, bucket) is s3.Versioning.ENABLED


def test_lifecycle_rule_is_added_and_other_rules_are_kept(aws_env: AwsTarget) -> None:  # noqa: F811
    bucket = _bucket(aws_env)
    other = {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
             "Expiration": {"Days": 90}}  # fmt: skip
    client("s3", aws_env).put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": [other]}
    )
    s3.put_backup_lifecycle(aws_env, bucket, noncurrent_days=30, abort_multipart_days=7)
    rules = s3.put_backup_lifecycle(aws_env, bucket, noncurrent_days=10, abort_multipart_days=2)
    by_id = {rule["ID"]: rule for rule in rules}
    assert set(by_id) == {"logs", s3.LIFECYCLE_RULE_ID}
    ours = by_id[s3.LIFECYCLE_RULE_ID]
    assert ours["NoncurrentVersionExpiration"]["NoncurrentDays"] == 10
    assert ours["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 2


def test_cross_region_replication_with_rtc_and_role(aws_env: AwsTarget) -> None:  # noqa: F811
    source, replica = _compliant_pair(aws_env)
    assert s3.bucket_region(aws_env, replica) == REPLICA_REGION
    config = s3.replication(aws_env, source)
    assert config is not None
    assert config["Role"].endswith(f":role/repl-{source}")
    destination = config["Rules"][0]["Destination"]
    assert destination["Bucket"] == f"arn:aws:s3:::{replica}"
    assert destination["ReplicationTime"] == {"Status": "Enabled", "Time": {"Minutes": 15}}
    assert destination["Metrics"]["Status"] == "Enabled"
    iam = client("iam", aws_env)
    policy = iam.get_role_policy(RoleName=f"repl-{source}", PolicyName="s3-replication")
    document = policy["PolicyDocument"]
    text = document if isinstance(document, str) else json.dumps(document)
    assert f"arn:aws:s3:::{replica}/*" in text and "s3:ReplicateObject" in text


def test_replication_refused_when_the_destination_is_not_versioned(
    aws_env: AwsTarget,  # noqa: F811
) -> None:
    source = _bucket(aws_env, "src")
    replica = _bucket(aws_env, "replica", REPLICA_REGION)
    s3.enable_versioning(aws_env, source)
    with pytest.raises(InputError, match=f"bucket '{replica}' does not have versioning"):
        s3.put_replication(aws_env, source, replica, "arn:aws:iam::123456789012:role/r")
    assert s3.replication(aws_env, source) is None


def test_audit_reports_each_bucket_out_of_policy(aws_env: AwsTarget) -> None:  # noqa: F811
    source, replica = _compliant_pair(aws_env)
    plain = _bucket(aws_env, "plain")
    tagged = _bucket(aws_env, "tagged")
    s3.enable_versioning(aws_env, tagged)
    s3.put_backup_lifecycle(aws_env, tagged)
    client("s3", aws_env).put_bucket_tagging(
        Bucket=tagged, Tagging={"TagSet": [{"Key": "ialr:replication", "Value": "required"}]}
    )
    policy = s3_audit.AuditPolicy(require_replication=("src-*",))
    found = {a.bucket: a for a in s3_audit.audit(aws_env, policy, [source, replica, plain, tagged])}
    assert found[source].in_policy and found[source].replication_required
    F = s3_audit.Finding
    assert found[plain].findings == (F.VERSIONING_OFF, F.NO_NONCURRENT_EXPIRATION,
                                     F.NO_ABORT_MULTIPART)  # fmt: skip
    assert found[tagged].findings == (F.NO_REPLICATION,)
    assert found[replica].region == REPLICA_REGION
    assert F.NO_NONCURRENT_EXPIRATION in found[replica].findings


def test_restore_previous_version_by_copy(aws_env: AwsTarget) -> None:  # noqa: F811
    bucket = _bucket(aws_env)
    s3.enable_versioning(aws_env, bucket)
    s3c = client("s3", aws_env)
    s3c.put_object(Bucket=bucket, Key="report.csv", Body=b"good,1\n")
    s3c.put_object(Bucket=bucket, Key="report.csv", Body=b"bad\n")
    restored = s3.restore_version(aws_env, bucket, "report.csv")
    assert restored.sha256 == hashlib.sha256(b"good,1\n").hexdigest()
    assert s3c.get_object(Bucket=bucket, Key="report.csv")["Body"].read() == b"good,1\n"
    assert len(s3.object_versions(aws_env, bucket, "report.csv")) == 3  # nothing deleted


def test_a_deleted_object_comes_back_as_its_last_version(aws_env: AwsTarget) -> None:  # noqa: F811
    bucket = _bucket(aws_env)
    s3.enable_versioning(aws_env, bucket)
    s3c = client("s3", aws_env)
    s3c.put_object(Bucket=bucket, Key="ledger.csv", Body=b"v1\n")
    s3c.put_object(Bucket=bucket, Key="ledger.csv", Body=b"v2\n")
    s3c.delete_object(Bucket=bucket, Key="ledger.csv")  # a delete marker is now current
    restored = s3.restore_version(aws_env, bucket, "ledger.csv")
    assert restored.sha256 == hashlib.sha256(b"v2\n").hexdigest()
    assert s3c.get_object(Bucket=bucket, Key="ledger.csv")["Body"].read() == b"v2\n"


def test_restore_without_a_previous_version_says_so(aws_env: AwsTarget) -> None:  # noqa: F811
    bucket = _bucket(aws_env)
    s3.enable_versioning(aws_env, bucket)
    client("s3", aws_env).put_object(Bucket=bucket, Key="once", Body=b"x")
    with pytest.raises(InputError, match="has 1 version"):
        s3.restore_version(aws_env, bucket, "once")


def test_drill_restores_and_leaves_no_drill_object(aws_env: AwsTarget) -> None:  # noqa: F811
    bucket = _bucket(aws_env)
    s3.enable_versioning(aws_env, bucket)
    payload = bytes(range(256)) * 4096  # 1 MiB
    client("s3", aws_env).put_object(Bucket=bucket, Key="data/blob.bin", Body=payload)
    result = s3_drill.run_drill(aws_env, bucket, "data/blob.bin")
    assert result.passed and result.rpo_s == 0.0
    assert result.details["sha256_restored"] == hashlib.sha256(payload).hexdigest()
    listed = client("s3", aws_env).list_object_versions(Bucket=bucket, Prefix="ialr-drill/")
    assert not listed.get("Versions") and not listed.get("DeleteMarkers")
    assert [v.size for v in s3.object_versions(aws_env, bucket, "data/blob.bin")] == [len(payload)]


def test_drill_refuses_an_unversioned_bucket(aws_env: AwsTarget) -> None:  # noqa: F811
    bucket = _bucket(aws_env)
    client("s3", aws_env).put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(InputError, match="versioning"):
        s3_drill.run_drill(aws_env, bucket, "k")


def test_drill_on_a_missing_key_is_not_found(aws_env: AwsTarget) -> None:  # noqa: F811
    bucket = _bucket(aws_env)
    s3.enable_versioning(aws_env, bucket)
    with pytest.raises(AwsNotFound):
        s3_drill.run_drill(aws_env, bucket, "missing")


def test_cli_configures_a_bucket_into_policy(
    aws_env: AwsTarget,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = _bucket(aws_env, "src")
    replica = _bucket(aws_env, "replica", REPLICA_REGION)
    code, out = _cli(capsys, aws_env, "backup", "aws", "audit", source, "--require-replication",
                     "src-*", "--json")  # fmt: skip
    assert code == 1
    report = json.loads(out)
    assert report["out_of_policy"] == 1
    codes = [f["code"] for f in report["buckets"][0]["findings"]]
    assert codes == ["versioning-off", "no-noncurrent-version-expiration",
                     "no-abort-incomplete-multipart", "no-replication"]  # fmt: skip
    code, out = _cli(capsys, aws_env, "backup", "aws", "enable-versioning", source)
    assert code == 0 and "versioning Enabled" in out
    code, out = _cli(capsys, aws_env, "backup", "aws", "enable-versioning", replica, "--json")
    assert code == 0 and json.loads(out)["versioning"] == "Enabled"
    code, out = _cli(capsys, aws_env, "backup", "aws", "set-lifecycle", source,
                     "--noncurrent-days", "14")  # fmt: skip
    assert code == 0 and "after 14 d" in out
    code, out = _cli(capsys, aws_env, "backup", "aws", "set-replication", source, replica)
    assert code == 3 and "--role-arn" in out
    code, out = _cli(capsys, aws_env, "backup", "aws", "set-replication", source, replica,
                     "--create-role", f"r-{source}")  # fmt: skip
    assert code == 0 and "RTC 15 min" in out
    code, out = _cli(capsys, aws_env, "backup", "aws", "audit", source, "--require-replication",
                     "src-*")  # fmt: skip
    assert code == 0 and "0 out of policy" in out


def test_cli_audit_table_names_the_problem(
    aws_env: AwsTarget,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    bucket = _bucket(aws_env, "plain")
    code, out = _cli(capsys, aws_env, "backup", "aws", "audit", bucket)
    assert code == 1
    assert "OUT OF POLICY" in out and "versioning is off" in out


def test_cli_s3_restore_and_drill(
    aws_env: AwsTarget,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("IALR_STATE_DIR", str(tmp_path))
    bucket = _bucket(aws_env)
    s3.enable_versioning(aws_env, bucket)
    s3c = client("s3", aws_env)
    first = s3c.put_object(Bucket=bucket, Key="k.txt", Body=b"v1")["VersionId"]
    s3c.put_object(Bucket=bucket, Key="k.txt", Body=b"v2")
    code, out = _cli(capsys, aws_env, "backup", "aws", "s3-restore", bucket, "k.txt",
                     "--version-id", first, "--json")  # fmt: skip
    assert code == 0 and json.loads(out)["sha256"] == hashlib.sha256(b"v1").hexdigest()
    code, out = _cli(capsys, aws_env, "recovery", "aws", "s3", bucket, "k.txt")
    assert code == 0 and "PASS" in out and "recorded in" in out
    saved = list((tmp_path / "history" / "recovery").glob("*-aws-s3-previous-version.json"))
    assert len(saved) == 1 and json.loads(saved[0].read_text())["passed"] is True


def test_large_objects_are_restored_by_multipart_copy(aws_env: AwsTarget) -> None:  # noqa: F811
    bucket = _bucket(aws_env)
    s3.enable_versioning(aws_env, bucket)
    s3c = client("s3", aws_env)
    original = bytes(range(256)) * 4096 * 12  # 12 MiB: two parts of boto3's 8 MiB chunks
    s3c.put_object(Bucket=bucket, Key="big.bin", Body=original)
    s3c.put_object(Bucket=bucket, Key="big.bin", Body=b"truncated")
    restored = s3.restore_version(aws_env, bucket, "big.bin", multipart_above=1024)
    assert restored.sha256 == hashlib.sha256(original).hexdigest()
    assert restored.new_version_id == s3.object_versions(aws_env, bucket, "big.bin")[0].version_id
    etag = s3c.head_object(Bucket=bucket, Key="big.bin")["ETag"]
    assert etag.strip('"').endswith("-2")  # a multipart object: really copied in parts


def test_restoring_an_unknown_version_names_it(aws_env: AwsTarget) -> None:  # noqa: F811
    bucket = _bucket(aws_env)
    s3.enable_versioning(aws_env, bucket)
    client("s3", aws_env).put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(InputError, match="no version 'v-nope'"):
        s3.restore_version(aws_env, bucket, "k", "v-nope")

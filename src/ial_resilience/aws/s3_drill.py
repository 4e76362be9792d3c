"""The S3 restore drill: prove that an object's previous version comes back intact.

The drill never touches the real object. It copies ``s3://BUCKET/KEY`` (server side) to a
scratch key under ``ialr-drill/``, overwrites the scratch key (the "disaster"), restores the
first version by copy (the same :func:`s3.restore_version` a real recovery uses), checks the
content hash against the original, measures the time from disaster to verified content, and
deletes every version of the scratch key.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime

from ial_resilience.aws import s3
from ial_resilience.aws._session import AwsTarget, aws_call
from ial_resilience.aws.history import AwsScenario, DrillResult, iso, utc_now
from ial_resilience.errors import InputError

SCENARIO = AwsScenario.S3_PREVIOUS_VERSION
RTO_TARGET_S = 15 * 60.0
DRILL_PREFIX = "ialr-drill/"


def _copy_to_scratch(target: AwsTarget, bucket: str, key: str, scratch: str) -> str:
    with aws_call(f"copy s3://{bucket}/{key} to the drill key {scratch}", target):
        size = s3.s3_client(target).head_object(Bucket=bucket, Key=key)["ContentLength"]
        source = {"Bucket": bucket, "Key": key}
        return s3.server_side_copy(target, source, bucket, scratch, size)


def _overwrite(target: AwsTarget, bucket: str, scratch: str) -> None:
    with aws_call(f"overwrite the drill key s3://{bucket}/{scratch}", target):
        s3.s3_client(target).put_object(
            Bucket=bucket, Key=scratch, Body=b"ialr drill: simulated bad overwrite\n"
        )


def _delete_all_versions(target: AwsTarget, bucket: str, scratch: str) -> None:
    client = s3.s3_client(target)
    with aws_call(f"delete the drill key s3://{bucket}/{scratch}", target):
        for version in s3.object_versions(target, bucket, scratch):
            client.delete_object(Bucket=bucket, Key=scratch, VersionId=version.version_id)


def run_drill(
    target: AwsTarget, bucket: str, key: str, rto_target_s: float = RTO_TARGET_S
) -> DrillResult:
    if s3.versioning(target, bucket) is not s3.Versioning.ENABLED:
        raise InputError(
            f"bucket {bucket!r} does not have versioning enabled: a previous version cannot "
            "be restored",
            hint=f"run `ialr backup aws enable-versioning {bucket}`",
        )
    started = utc_now()
    original = s3.object_sha256(target, bucket, key)
    scratch = f"{DRILL_PREFIX}{uuid.uuid4().hex[:12]}/{key}"
    try:
        first_version = _copy_to_scratch(target, bucket, key, scratch)
        _overwrite(target, bucket, scratch)
        disaster = time.monotonic()
        restored = s3.restore_version(target, bucket, scratch, first_version or None)
        rto = time.monotonic() - disaster
    finally:
        _delete_all_versions(target, bucket, scratch)
    return _result(bucket, key, scratch, started, original, restored, rto, rto_target_s, target)


def _result(
    bucket: str,
    key: str,
    scratch: str,
    started: datetime,
    original: str,
    restored: s3.RestoredVersion,
    rto: float,
    rto_target_s: float,
    target: AwsTarget,
) -> DrillResult:
    matches = restored.sha256 == original
    return DrillResult(
        scenario=SCENARIO,
        started=iso(started),
        rto_s=round(rto, 3),
        rpo_s=0.0 if matches else None,
        passed=matches and rto <= rto_target_s,
        details={
            "bucket": bucket,
            "key": key,
            "drill_key": scratch,
            "restored_from_version": restored.restored_from,
            "sha256_original": original,
            "sha256_restored": restored.sha256,
            "content_matches": matches,
            "rto_target_s": rto_target_s,
            "endpoint": target.describe(),
        },
    )

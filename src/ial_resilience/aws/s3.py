"""S3: versioning, lifecycle for non-current versions, cross-region replication with RTC,
and restoring an object's previous version.

Every function takes an :class:`AwsTarget`; botocore errors are translated by ``aws_call``.
A configuration that is absent (no lifecycle, no replication, no tags) is ``None``/empty, not
an error.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast

from boto3.s3.transfer import TransferConfig

from ial_resilience.aws._session import AwsError, AwsTarget, aws_call, client
from ial_resilience.errors import InputError

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

LIFECYCLE_RULE_ID = "ialr-noncurrent-versions"
REPLICATION_RULE_ID = "ialr-replication"
RTC_MINUTES = 15
_ABSENT_CODES = frozenset(
    {
        "NoSuchLifecycleConfiguration",
        "ReplicationConfigurationNotFoundError",
        "NoSuchTagSet",
        "NoSuchTagSetError",
    }
)


class Versioning(StrEnum):
    ENABLED = "Enabled"
    SUSPENDED = "Suspended"
    OFF = "Off"


@dataclass(frozen=True)
class ObjectVersion:
    key: str
    version_id: str
    last_modified: datetime
    is_latest: bool
    size: int


@dataclass(frozen=True)
class RestoredVersion:
    bucket: str
    key: str
    restored_from: str
    new_version_id: str
    sha256: str


def s3_client(target: AwsTarget) -> S3Client:
    return cast("S3Client", client("s3", target))


def _optional(action: str, target: AwsTarget, call: Any, **kwargs: Any) -> Any:
    """``call(**kwargs)``, or ``None`` when S3 answers that the configuration does not exist."""
    try:
        with aws_call(action, target):
            return call(**kwargs)
    except AwsError as error:
        if error.code in _ABSENT_CODES:
            return None
        raise


def bucket_region(target: AwsTarget, bucket: str) -> str:
    with aws_call(f"find the region of bucket {bucket!r}", target):
        answer = s3_client(target).get_bucket_location(Bucket=bucket)
    return str(answer.get("LocationConstraint") or "us-east-1")


def versioning(target: AwsTarget, bucket: str) -> Versioning:
    with aws_call(f"read versioning of bucket {bucket!r}", target):
        answer = s3_client(target).get_bucket_versioning(Bucket=bucket)
    return Versioning(answer.get("Status", Versioning.OFF))


def enable_versioning(target: AwsTarget, bucket: str) -> Versioning:
    with aws_call(f"enable versioning on bucket {bucket!r}", target):
        s3_client(target).put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
        )
    return versioning(target, bucket)


def lifecycle_rules(target: AwsTarget, bucket: str) -> list[dict[str, Any]]:
    answer = _optional(
        f"read the lifecycle of bucket {bucket!r}",
        target,
        s3_client(target).get_bucket_lifecycle_configuration,
        Bucket=bucket,
    )
    return list(answer.get("Rules", [])) if answer else []


def backup_lifecycle_rule(noncurrent_days: int, abort_multipart_days: int) -> dict[str, Any]:
    """Expire non-current versions after N days; abort multipart uploads left incomplete."""
    if noncurrent_days < 1 or abort_multipart_days < 1:
        raise InputError(
            f"lifecycle days must be ≥ 1 (got non-current {noncurrent_days}, "
            f"multipart {abort_multipart_days})",
            hint="pass --noncurrent-days and --abort-multipart-days as whole days ≥ 1",
        )
    return {
        "ID": LIFECYCLE_RULE_ID,
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "NoncurrentVersionExpiration": {"NoncurrentDays": noncurrent_days},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": abort_multipart_days},
    }


def put_backup_lifecycle(
    target: AwsTarget, bucket: str, noncurrent_days: int = 30, abort_multipart_days: int = 7
) -> list[dict[str, Any]]:
    """Add or replace our rule, keeping every other rule of the bucket; returns the rules."""
    ours = backup_lifecycle_rule(noncurrent_days, abort_multipart_days)
    kept = [rule for rule in lifecycle_rules(target, bucket) if rule.get("ID") != ours["ID"]]
    with aws_call(f"write the lifecycle of bucket {bucket!r}", target):
        s3_client(target).put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration=cast(Any, {"Rules": [*kept, ours]})
        )
    return lifecycle_rules(target, bucket)


def replication(target: AwsTarget, bucket: str) -> dict[str, Any] | None:
    answer = _optional(
        f"read the replication of bucket {bucket!r}",
        target,
        s3_client(target).get_bucket_replication,
        Bucket=bucket,
    )
    return dict(answer["ReplicationConfiguration"]) if answer else None


def bucket_tags(target: AwsTarget, bucket: str) -> dict[str, str]:
    answer = _optional(
        f"read the tags of bucket {bucket!r}",
        target,
        s3_client(target).get_bucket_tagging,
        Bucket=bucket,
    )
    return {tag["Key"]: tag["Value"] for tag in answer.get("TagSet", [])} if answer else {}


def replication_rule(destination_bucket: str, storage_class: str = "STANDARD") -> dict[str, Any]:
    """Replicate everything to ``destination_bucket`` with Replication Time Control (15 min).

    Delete markers are not replicated: the replica is a backup, and a delete in the source
    must not hide the object in the copy.
    """
    return {
        "ID": REPLICATION_RULE_ID,
        "Priority": 1,
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "DeleteMarkerReplication": {"Status": "Disabled"},  # a delete must not reach the copy
        "Destination": {
            "Bucket": f"arn:aws:s3:::{destination_bucket}",
            "StorageClass": storage_class,
            "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": RTC_MINUTES}},
            "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": RTC_MINUTES}},
        },
    }


def put_replication(
    target: AwsTarget,
    bucket: str,
    destination_bucket: str,
    role_arn: str,
    storage_class: str = "STANDARD",
) -> dict[str, Any]:
    """Configure replication to ``destination_bucket`` (in its own region) with RTC."""
    destination_target = target.in_region(bucket_region(target, destination_bucket))
    for name, where in ((bucket, target), (destination_bucket, destination_target)):
        if versioning(where, name) is not Versioning.ENABLED:
            raise InputError(
                f"bucket {name!r} does not have versioning enabled; S3 replication needs it on "
                "both the source and the destination",
                hint=f"run `ialr backup aws enable-versioning {name}` first",
            )
    config = {"Role": role_arn, "Rules": [replication_rule(destination_bucket, storage_class)]}
    with aws_call(f"configure replication of bucket {bucket!r}", target):
        s3_client(target).put_bucket_replication(
            Bucket=bucket, ReplicationConfiguration=cast(Any, config)
        )
    return replication(target, bucket) or {}


def replication_role_documents(source: str, destination: str) -> tuple[str, str]:
    """The trust policy and the permissions policy of an S3 replication role (JSON text)."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    permissions = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                "Resource": f"arn:aws:s3:::{source}",
            },
            {
                "Effect": "Allow",
                "Action": [
                    "s3:GetObjectVersionForReplication",
                    "s3:GetObjectVersionAcl",
                    "s3:GetObjectVersionTagging",
                ],
                "Resource": f"arn:aws:s3:::{source}/*",
            },
            {
                "Effect": "Allow",
                "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                "Resource": f"arn:aws:s3:::{destination}/*",
            },
        ],
    }
    return json.dumps(trust), json.dumps(permissions)


def create_replication_role(target: AwsTarget, name: str, source: str, destination: str) -> str:
    """Create the IAM role S3 assumes to replicate ``source`` → ``destination``; its ARN."""
    trust, permissions = replication_role_documents(source, destination)
    iam: Any = client("iam", target)
    with aws_call(f"create the replication role {name!r}", target):
        role = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=trust,
            Description=f"S3 replication {source} -> {destination} (ial-resilience)",
        )
        iam.put_role_policy(RoleName=name, PolicyName="s3-replication", PolicyDocument=permissions)
    return str(role["Role"]["Arn"])


def object_versions(target: AwsTarget, bucket: str, key: str) -> list[ObjectVersion]:
    """Every version of exactly ``key``, newest first."""
    return sorted(_versions(target, bucket, key), key=lambda v: v.last_modified, reverse=True)


def _versions(target: AwsTarget, bucket: str, key: str) -> Iterator[ObjectVersion]:
    s3 = s3_client(target)
    request: dict[str, Any] = {"Bucket": bucket, "Prefix": key}
    while True:
        with aws_call(f"list versions of s3://{bucket}/{key}", target):
            page = s3.list_object_versions(**request)
        for found in page.get("Versions", []):
            if found.get("Key") == key:
                yield ObjectVersion(
                    key=key,
                    version_id=found["VersionId"],
                    last_modified=found["LastModified"],
                    is_latest=bool(found.get("IsLatest")),
                    size=int(found.get("Size", 0)),
                )
        if not page.get("IsTruncated"):
            return
        request["KeyMarker"] = page.get("NextKeyMarker")
        request["VersionIdMarker"] = page.get("NextVersionIdMarker")


def object_sha256(target: AwsTarget, bucket: str, key: str, version_id: str | None = None) -> str:
    """SHA-256 of an object's bytes (of ``version_id`` if given), streamed."""
    request: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        request["VersionId"] = version_id
    digest = hashlib.sha256()
    with aws_call(f"read s3://{bucket}/{key}", target):
        body = s3_client(target).get_object(**request)["Body"]
        for chunk in body.iter_chunks(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def previous_version(target: AwsTarget, bucket: str, key: str) -> ObjectVersion:
    return _previous(object_versions(target, bucket, key), bucket, key)


def _previous(versions: list[ObjectVersion], bucket: str, key: str) -> ObjectVersion:
    """The version before the current one; for a deleted object (a delete marker is current,
    so no listed version is the latest) the newest version still there."""
    if versions and not any(version.is_latest for version in versions):
        return versions[0]
    if len(versions) < 2:
        raise InputError(
            f"s3://{bucket}/{key} has {len(versions)} version(s); there is no previous one",
            hint="pass --version-id, or check that versioning was on when it was overwritten",
        )
    return versions[1]


COPY_OBJECT_LIMIT = 5 * 1024**3  # one CopyObject call copies at most 5 GiB


def server_side_copy(
    target: AwsTarget,
    source: dict[str, str],
    bucket: str,
    key: str,
    size: int,
    multipart_above: int = COPY_OBJECT_LIMIT,
) -> str:
    """Copy ``source`` to ``bucket``/``key`` inside S3 (in parts above ``multipart_above``
    bytes); returns the new version id (empty when the bucket is not versioned).
    Call inside :func:`aws_call`."""
    s3 = s3_client(target)
    if size > multipart_above:
        config = TransferConfig(multipart_threshold=multipart_above)
        s3.copy(cast(Any, source), bucket, key, Config=config)
        return str(s3.head_object(Bucket=bucket, Key=key).get("VersionId", ""))
    copied = s3.copy_object(Bucket=bucket, Key=key, CopySource=cast(Any, source))
    return str(copied.get("VersionId", ""))


def restore_version(
    target: AwsTarget,
    bucket: str,
    key: str,
    version_id: str | None = None,
    multipart_above: int = COPY_OBJECT_LIMIT,
) -> RestoredVersion:
    """Make ``version_id`` (default: the previous version, or the last one before a delete)
    current again by a server-side copy.

    Nothing is deleted: the version that was current stays in the history. Objects larger than
    ``multipart_above`` bytes are copied in parts (boto3's managed copy).
    """
    history = object_versions(target, bucket, key)
    versions = {v.version_id: v for v in history}
    chosen = version_id or _previous(history, bucket, key).version_id
    if chosen not in versions:
        raise InputError(
            f"s3://{bucket}/{key} has no version {chosen!r}",
            hint=f"list them: aws s3api list-object-versions --bucket {bucket} --prefix {key}",
        )
    source = {"Bucket": bucket, "Key": key, "VersionId": chosen}
    with aws_call(f"restore s3://{bucket}/{key} to version {chosen}", target):
        new_version = server_side_copy(
            target, source, bucket, key, versions[chosen].size, multipart_above
        )
    return RestoredVersion(
        bucket=bucket,
        key=key,
        restored_from=chosen,
        new_version_id=new_version,
        sha256=object_sha256(target, bucket, key, new_version or None),
    )

"""Audit every bucket against the backup policy: versioning, lifecycle, replication.

A bucket is in policy when versioning is enabled, a lifecycle rule expires non-current
versions, a rule aborts incomplete multipart uploads, and — where replication is required (by
tag ``ialr:replication=required`` or by a name pattern) — replication is configured with
Replication Time Control.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ial_resilience.aws import s3
from ial_resilience.aws._session import AwsTarget, aws_call

REPLICATION_TAG = "ialr:replication"
REQUIRED = "required"


class Finding(StrEnum):
    VERSIONING_OFF = "versioning-off"
    VERSIONING_SUSPENDED = "versioning-suspended"
    NO_NONCURRENT_EXPIRATION = "no-noncurrent-version-expiration"
    NO_ABORT_MULTIPART = "no-abort-incomplete-multipart"
    NO_REPLICATION = "no-replication"
    REPLICATION_WITHOUT_RTC = "replication-without-rtc"


EXPLANATIONS = {
    Finding.VERSIONING_OFF: "versioning is off: an overwrite or delete loses data",
    Finding.VERSIONING_SUSPENDED: "versioning is suspended: new overwrites lose data",
    Finding.NO_NONCURRENT_EXPIRATION: "no lifecycle rule expires non-current versions",
    Finding.NO_ABORT_MULTIPART: "no lifecycle rule aborts incomplete multipart uploads",
    Finding.NO_REPLICATION: "replication is required but not configured",
    Finding.REPLICATION_WITHOUT_RTC: "replication has no Replication Time Control (15 min)",
}


@dataclass(frozen=True)
class AuditPolicy:
    require_replication: tuple[str, ...] = ()  # bucket name patterns (fnmatch)

    def needs_replication(self, bucket: str, tags: dict[str, str]) -> bool:
        if tags.get(REPLICATION_TAG, "").lower() == REQUIRED:
            return True
        return any(fnmatch.fnmatchcase(bucket, pattern) for pattern in self.require_replication)


@dataclass(frozen=True)
class BucketAudit:
    bucket: str
    region: str
    replication_required: bool
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def in_policy(self) -> bool:
        return not self.findings

    def as_json(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "region": self.region,
            "in_policy": self.in_policy,
            "replication_required": self.replication_required,
            "findings": [
                {"code": str(finding), "message": EXPLANATIONS[finding]}
                for finding in self.findings
            ],
        }


def _enabled(rules: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [rule for rule in rules if rule.get("Status") == "Enabled"]


def lifecycle_findings(rules: list[dict[str, Any]]) -> list[Finding]:
    enabled = _enabled(rules)
    found: list[Finding] = []
    if not any("NoncurrentVersionExpiration" in rule for rule in enabled):
        found.append(Finding.NO_NONCURRENT_EXPIRATION)
    if not any("AbortIncompleteMultipartUpload" in rule for rule in enabled):
        found.append(Finding.NO_ABORT_MULTIPART)
    return found


def replication_findings(config: dict[str, Any] | None, required: bool) -> list[Finding]:
    rules = _enabled(config.get("Rules", [])) if config else []
    if not rules:
        return [Finding.NO_REPLICATION] if required else []
    with_rtc = [
        rule
        for rule in rules
        if rule.get("Destination", {}).get("ReplicationTime", {}).get("Status") == "Enabled"
    ]
    return [] if with_rtc or not required else [Finding.REPLICATION_WITHOUT_RTC]


def versioning_findings(state: s3.Versioning) -> list[Finding]:
    if state is s3.Versioning.OFF:
        return [Finding.VERSIONING_OFF]
    if state is s3.Versioning.SUSPENDED:
        return [Finding.VERSIONING_SUSPENDED]
    return []


def audit_bucket(target: AwsTarget, bucket: str, policy: AuditPolicy) -> BucketAudit:
    region = s3.bucket_region(target, bucket)
    here = target.in_region(region)
    required = policy.needs_replication(bucket, s3.bucket_tags(here, bucket))
    findings = [
        *versioning_findings(s3.versioning(here, bucket)),
        *lifecycle_findings(s3.lifecycle_rules(here, bucket)),
        *replication_findings(s3.replication(here, bucket), required),
    ]
    return BucketAudit(bucket, region, required, tuple(findings))


def list_buckets(target: AwsTarget) -> list[str]:
    with aws_call("list buckets", target):
        answer = s3.s3_client(target).list_buckets()
    return sorted(bucket["Name"] for bucket in answer.get("Buckets", []))


def audit(
    target: AwsTarget, policy: AuditPolicy, buckets: Iterable[str] | None = None
) -> list[BucketAudit]:
    """Audit ``buckets`` (default: every bucket the credentials can list), sorted by name."""
    names = sorted(buckets) if buckets is not None else list_buckets(target)
    return [audit_bucket(target, name, policy) for name in names]

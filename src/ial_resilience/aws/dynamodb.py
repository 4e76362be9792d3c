"""DynamoDB: point-in-time recovery, on-demand backups, and a restore drill with a content check.

The drill restores the table to a point in time into a scratch table, waits until it is ACTIVE,
and compares item count and an order-independent content hash with the source at that point;
it measures the restore time and always deletes the scratch table.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from ial_resilience.aws._session import AwsError, AwsTarget, aws_call, client
from ial_resilience.aws.history import iso, utc_now
from ial_resilience.errors import InputError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

_HASH_MODULUS = 2**256


@dataclass(frozen=True)
class PitrStatus:
    table: str
    enabled: bool
    earliest: datetime | None
    latest: datetime | None
    recovery_days: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "enabled": self.enabled,
            "earliest_restorable": iso(self.earliest) if self.earliest else None,
            "latest_restorable": iso(self.latest) if self.latest else None,
            "recovery_days": self.recovery_days,
        }


@dataclass(frozen=True)
class BackupInfo:
    table: str
    name: str
    arn: str
    status: str
    created: datetime | None
    size_bytes: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "name": self.name,
            "arn": self.arn,
            "status": self.status,
            "created": iso(self.created) if self.created else None,
            "size_bytes": self.size_bytes,
        }


@dataclass(frozen=True)
class Fingerprint:
    """Item count and an order-independent hash of every item's canonical form."""

    items: int
    sha256: str


def _dynamodb(target: AwsTarget) -> DynamoDBClient:
    return cast("DynamoDBClient", client("dynamodb", target))


def pitr_status(target: AwsTarget, table: str) -> PitrStatus:
    with aws_call(f"read point-in-time recovery of table {table!r}", target):
        answer = _dynamodb(target).describe_continuous_backups(TableName=table)
    described = answer["ContinuousBackupsDescription"].get("PointInTimeRecoveryDescription", {})
    return PitrStatus(
        table=table,
        enabled=described.get("PointInTimeRecoveryStatus") == "ENABLED",
        earliest=described.get("EarliestRestorableDateTime"),
        latest=described.get("LatestRestorableDateTime"),
        recovery_days=described.get("RecoveryPeriodInDays"),
    )


def enable_pitr(target: AwsTarget, table: str, recovery_days: int | None = None) -> PitrStatus:
    """Turn point-in-time recovery on (idempotent); ``recovery_days`` is 1–35 (AWS default 35)."""
    if recovery_days is not None and not 1 <= recovery_days <= 35:
        raise InputError(
            f"recovery period {recovery_days} days is out of range (1 to 35)",
            hint="DynamoDB keeps point-in-time recovery for 1 to 35 days",
        )
    spec: dict[str, Any] = {"PointInTimeRecoveryEnabled": True}
    if recovery_days is not None:
        spec["RecoveryPeriodInDays"] = recovery_days
    with aws_call(f"enable point-in-time recovery on table {table!r}", target):
        _dynamodb(target).update_continuous_backups(
            TableName=table, PointInTimeRecoverySpecification=cast(Any, spec)
        )
    return pitr_status(target, table)


def create_backup(target: AwsTarget, table: str, name: str | None = None) -> BackupInfo:
    """An on-demand backup named ``name`` (default ``<table>-ialr-<UTC stamp>``)."""
    backup_name = name or f"{table}-ialr-{utc_now():%Y%m%dT%H%M%SZ}"
    with aws_call(f"create an on-demand backup of table {table!r}", target):
        details = _dynamodb(target).create_backup(TableName=table, BackupName=backup_name)
    found = details["BackupDetails"]
    return BackupInfo(
        table=table,
        name=found["BackupName"],
        arn=found["BackupArn"],
        status=found["BackupStatus"],
        created=found.get("BackupCreationDateTime"),
        size_bytes=found.get("BackupSizeBytes"),
    )


def list_backups(target: AwsTarget, table: str | None = None) -> list[BackupInfo]:
    """Every on-demand backup (of ``table`` if given), following pagination."""
    found: list[BackupInfo] = []
    request: dict[str, Any] = {"TableName": table} if table else {}
    dynamodb = _dynamodb(target)
    while True:
        with aws_call(f"list backups{f' of table {table!r}' if table else ''}", target):
            page = dynamodb.list_backups(**request)
        for summary in page.get("BackupSummaries", []):
            found.append(
                BackupInfo(
                    table=summary.get("TableName", ""),
                    name=summary.get("BackupName", ""),
                    arn=summary.get("BackupArn", ""),
                    status=summary.get("BackupStatus", ""),
                    created=summary.get("BackupCreationDateTime"),
                    size_bytes=summary.get("BackupSizeBytes"),
                )
            )
        last = page.get("LastEvaluatedBackupArn")
        if not last:
            return found
        request["ExclusiveStartBackupArn"] = last


def canonical_value(value: Mapping[str, Any]) -> Any:
    """A DynamoDB attribute value in a form that is equal for equal values (sets sorted)."""
    ((kind, inner),) = value.items()
    if kind == "B":
        return {kind: base64.b64encode(bytes(inner)).decode()}
    if kind == "BS":
        return {kind: sorted(base64.b64encode(bytes(x)).decode() for x in inner)}
    if kind in ("SS", "NS"):
        return {kind: sorted(inner)}
    if kind == "M":
        return {kind: {k: canonical_value(v) for k, v in inner.items()}}
    if kind == "L":
        return {kind: [canonical_value(v) for v in inner]}
    return {kind: inner}


def item_digest(item: Mapping[str, Mapping[str, Any]]) -> int:
    canonical = {name: canonical_value(value) for name, value in item.items()}
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")


def fingerprint(items: Iterator[Mapping[str, Mapping[str, Any]]]) -> Fingerprint:
    """Count and multiset hash (sum of item digests mod 2**256): item order does not matter."""
    count, total = 0, 0
    for item in items:
        count += 1
        total = (total + item_digest(item)) % _HASH_MODULUS
    return Fingerprint(items=count, sha256=f"{total:064x}")


def scan_items(target: AwsTarget, table: str) -> Iterator[dict[str, Any]]:
    """Every item of ``table`` (strongly consistent scan, all pages)."""
    dynamodb = _dynamodb(target)
    request: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        with aws_call(f"scan table {table!r}", target):
            page = dynamodb.scan(**request)
        yield from page.get("Items", [])
        last = page.get("LastEvaluatedKey")
        if not last:
            return
        request["ExclusiveStartKey"] = last


def table_fingerprint(target: AwsTarget, table: str) -> Fingerprint:
    return fingerprint(scan_items(target, table))


def poll(
    check: Callable[[], bool], *, timeout: float, what: str, first: float = 0.1, most: float = 10.0
) -> float:
    """Call ``check`` until true, backing off from ``first`` to ``most`` s; returns the wait."""
    started = time.monotonic()
    pause = first
    while not check():
        waited = time.monotonic() - started
        if waited >= timeout:
            raise AwsError(
                f"gave up waiting after {waited:.0f}s: {what}",
                hint="raise the timeout, or look at the resource in the AWS console",
            )
        time.sleep(min(pause, max(0.0, timeout - waited)))
        pause = min(pause * 2, most)
    return time.monotonic() - started


def table_status(target: AwsTarget, table: str) -> str:
    with aws_call(f"describe table {table!r}", target):
        described = _dynamodb(target).describe_table(TableName=table)
    return str(described["Table"].get("TableStatus", ""))


def delete_table(target: AwsTarget, table: str) -> None:
    with aws_call(f"delete the scratch table {table!r}", target):
        _dynamodb(target).delete_table(TableName=table)


def restore_to_point(target: AwsTarget, source: str, new_table: str, point: datetime) -> None:
    """Start restoring ``source`` as it was at ``point`` into ``new_table`` (on-demand billing).

    Raises :class:`AwsError` with ``code == "InvalidRestoreTimeException"`` while ``point`` is
    not yet (or no longer) restorable.
    """
    with aws_call(f"restore table {source!r} to {iso(point)} as {new_table!r}", target):
        _dynamodb(target).restore_table_to_point_in_time(
            SourceTableName=source,
            TargetTableName=new_table,
            RestoreDateTime=point,
            BillingModeOverride="PAY_PER_REQUEST",
        )

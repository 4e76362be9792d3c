"""The DynamoDB restore drill: PITR into a scratch table, content check, restore time measured.

Steps: fingerprint the source (strongly consistent scan), take that moment as the restore point,
restore into ``<table>-ialr-drill-<id>`` (retrying while AWS says the point is not yet
restorable: the latest restorable time trails real time by about five minutes), wait for
ACTIVE, fingerprint the scratch table, compare, delete the scratch table (always).

RTO is the time from the restore request AWS accepted to the table being ACTIVE. RPO is how far
the latest restorable time trailed the drill's start: the writes a loss at that moment could
not get back by restoring to the latest restorable time. The source should be quiet while it is
scanned; writes during the scan show up as a mismatch (a failed drill, not a wrong pass).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from ial_resilience.aws import dynamodb as ddb
from ial_resilience.aws._session import AwsError, AwsNotFound, AwsTarget
from ial_resilience.aws.history import AwsScenario, DrillResult, iso, utc_now
from ial_resilience.errors import InputError

SCENARIO = AwsScenario.DYNAMODB_PITR
RTO_TARGET_S = 15 * 60.0


@dataclass(frozen=True)
class DrillOptions:
    rto_target_s: float = RTO_TARGET_S
    window_wait_s: float = 15 * 60.0
    active_timeout_s: float = 60 * 60.0
    scratch_table: str | None = None


def scratch_name(table: str) -> str:
    return f"{table[:200]}-ialr-drill-{uuid.uuid4().hex[:8]}"


def check_window(status: ddb.PitrStatus, point: datetime) -> None:
    """Refuse a restore point before the earliest restorable time, stating the window."""
    if not status.enabled:
        raise InputError(
            f"point-in-time recovery is not enabled on table {status.table!r}",
            hint=f"enable it with `ialr backup aws enable-pitr {status.table}`",
        )
    if status.earliest is not None and point < status.earliest:
        latest = iso(status.latest) if status.latest else "now"
        raise InputError(
            f"restore point {iso(point)} is outside the recoverable window of table "
            f"{status.table!r}: {iso(status.earliest)} to {latest}",
            hint="choose a time inside the window",
        )


def request_restore(
    target: AwsTarget, source: str, scratch: str, point: datetime, wait_s: float
) -> float:
    """Ask for the restore; retry while the point is newer than the latest restorable time."""

    def accepted() -> bool:
        try:
            ddb.restore_to_point(target, source, scratch, point)
        except AwsError as error:
            if error.code == "InvalidRestoreTimeException":
                return False
            raise
        return True

    return ddb.poll(
        accepted,
        timeout=wait_s,
        what=f"{iso(point)} to become restorable for table {source!r}",
        first=5.0,
        most=30.0,
    )


def remove_scratch(target: AwsTarget, scratch: str, timeout_s: float) -> None:
    """Delete the scratch table; a table still being restored is deleted once it is ACTIVE."""

    def deleted() -> bool:
        try:
            ddb.delete_table(target, scratch)
        except AwsNotFound:
            return True  # already gone
        except AwsError as error:
            if error.code == "ResourceInUseException":
                return False
            raise AwsError(
                f"the drill's scratch table {scratch!r} could not be deleted: {error.message}",
                code=error.code,
                hint=f"delete it by hand: aws dynamodb delete-table --table-name {scratch}",
            ) from error
        return True

    ddb.poll(deleted, timeout=timeout_s, what=f"scratch table {scratch!r} to be deletable",
             first=5.0, most=30.0)  # fmt: skip


def run_drill(target: AwsTarget, table: str, options: DrillOptions | None = None) -> DrillResult:
    opts = options or DrillOptions()
    started = utc_now()
    status = ddb.pitr_status(target, table)
    source = ddb.table_fingerprint(target, table)
    point = utc_now()
    check_window(status, point)
    scratch = opts.scratch_table or scratch_name(table)
    created = False
    try:
        window_wait = request_restore(target, table, scratch, point, opts.window_wait_s)
        created = True
        restore_began = time.monotonic()
        ddb.poll(
            lambda: ddb.table_status(target, scratch) == "ACTIVE",
            timeout=opts.active_timeout_s,
            what=f"scratch table {scratch!r} to become ACTIVE",
        )
        restore_s = time.monotonic() - restore_began
        verify_began = time.monotonic()
        restored = ddb.table_fingerprint(target, scratch)
        verify_s = time.monotonic() - verify_began
    finally:
        if created:
            remove_scratch(target, scratch, opts.active_timeout_s)
    return _result(table, scratch, started, status, point, source, restored,
                   restore_s, verify_s, window_wait, opts, target)  # fmt: skip


def _result(
    table: str,
    scratch: str,
    started: datetime,
    status: ddb.PitrStatus,
    point: datetime,
    source: ddb.Fingerprint,
    restored: ddb.Fingerprint,
    restore_s: float,
    verify_s: float,
    window_wait_s: float,
    opts: DrillOptions,
    target: AwsTarget,
) -> DrillResult:
    content_ok = source == restored
    rpo = (started - status.latest).total_seconds() if status.latest else None
    return DrillResult(
        scenario=SCENARIO,
        started=iso(started),
        rto_s=round(restore_s, 3),
        rpo_s=None if rpo is None else round(max(0.0, rpo), 3),
        passed=content_ok and restore_s <= opts.rto_target_s,
        details={
            "table": table,
            "scratch_table": scratch,
            "restore_point": iso(point),
            "items_source": source.items,
            "items_restored": restored.items,
            "hash_source": source.sha256,
            "hash_restored": restored.sha256,
            "content_matches": content_ok,
            "restore_s": round(restore_s, 3),
            "verify_s": round(verify_s, 3),
            "window_wait_s": round(window_wait_s, 3),
            "rto_target_s": opts.rto_target_s,
            "latest_restorable_at_start": iso(status.latest) if status.latest else None,
            "endpoint": target.describe(),
        },
    )

"""docs/RECOVERY_PROCEDURES.md, generated from the last recorded drill of each scenario.

PostgreSQL scenarios (``ialr recovery test``, locally and on the lab) and AWS scenarios
(``ialr recovery aws dynamodb|s3``) share one history directory; each procedure shows the
figures of its scenario's last drill, or says it was never drilled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from ial_resilience.aws.history import AwsScenario
from ial_resilience.aws.history import DrillResult as AwsDrillResult
from ial_resilience.backup.drills import DrillResult, Scenario
from ial_resilience.units import format_duration, format_size


@dataclass(frozen=True)
class Procedure:
    title: str
    when: str
    steps: tuple[str, ...]


PROCEDURES: dict[Scenario, Procedure] = {
    Scenario.DROPPED_TABLE: Procedure(
        title="A table dropped (or data deleted) by mistake",
        when="a statement destroyed data but the server is healthy",
        steps=(
            "Note the time just before the mistake (application logs, `pg_stat_activity`, "
            "the statement's audit entry). Stop writes to the affected data if you can.",
            "List the backups: `ialr backup list --repo REPO` and pick the newest physical "
            "backup that ended before that time.",
            "Restore it next to the live server with point-in-time recovery: "
            "`ialr backup restore ID --repo REPO --target /srv/pg-restore "
            '--to "YYYY-MM-DDTHH:MM:SSZ"`. A time outside the recoverable window is refused '
            "with the window; a missing WAL segment is refused with its name.",
            "Start the restored directory on a spare port (`pg_ctl -D /srv/pg-restore -o "
            "'-p 5433' start`), check the table, then copy it back with "
            "`pg_dump -t TABLE -p 5433 | psql -p 5432`.",
            "Remove the restored directory; record what was lost (the RPO) in the incident.",
        ),
    ),
    Scenario.WRITER_LOST: Procedure(
        title="The database writer is lost (host, disk or data directory gone)",
        when="the primary server and its data directory are unavailable",
        steps=(
            "Make sure the old writer cannot come back and accept writes (fence it).",
            "Check that WAL streaming (`pg_receivewal`) reached the repository: the newest "
            "segment (or `.partial`) under `REPO/wal/<system-id>/`.",
            "Restore the newest backup with every streamed WAL segment: "
            "`ialr backup restore latest --repo REPO --target /srv/pgdata`.",
            "The restore starts the server once to replay the WAL and promote it, then stops "
            "it cleanly. Start it (`pg_ctl -D /srv/pgdata start`), point the application "
            "at it and check its health endpoint.",
            "Take a fresh base backup and restart WAL streaming for the new timeline.",
        ),
    ),
    Scenario.CORRUPTION: Procedure(
        title="Data directory corruption",
        when="reads fail with `invalid page in block …` (data checksums) or amcheck errors",
        steps=(
            "Confirm and locate it: `pg_amcheck` on the live server, or `pg_checksums "
            "--check -D PGDATA` on the stopped one; both name the damaged relation file.",
            "Stop the damaged server; keep its directory aside for analysis, do not repair "
            "it in place.",
            "Restore the newest backup with all WAL to a new directory: "
            "`ialr backup restore latest --repo REPO --target /srv/pgdata-new`.",
            "Start it, run `pg_amcheck` again and compare row counts of the affected tables, "
            "then switch the application over.",
            "Verify the backups themselves: `ialr backup verify latest --repo REPO`.",
        ),
    ),
}


@dataclass(frozen=True)
class AwsProcedure:
    title: str
    when: str
    drill: str  # the command that rehearses it
    rehearsal: str  # what the drill does
    steps: tuple[str, ...]


AWS_PROCEDURES: dict[AwsScenario, AwsProcedure] = {
    AwsScenario.DYNAMODB_PITR: AwsProcedure(
        title="DynamoDB items deleted or overwritten by mistake",
        when="a deploy, a script or a user wrote wrong items or deleted them; the table "
        "itself still exists",
        drill="ialr recovery aws dynamodb TABLE",
        rehearsal="fingerprints the table (item count and a content hash, strongly consistent "
        "scan), restores it to that moment into a scratch table `TABLE-ialr-drill-…`, waits "
        "until it is ACTIVE, compares the fingerprints and deletes the scratch table; the "
        "table itself is only read",
        steps=(
            "Note the time just before the damage (CloudTrail, application logs).",
            "Check that the time is inside the recoverable window: `ialr backup aws "
            "pitr-status TABLE` prints the earliest and latest restorable times. Without "
            "point-in-time recovery, restore the newest on-demand backup listed by `ialr backup "
            "aws dynamodb-backups TABLE` with `aws dynamodb restore-table-from-backup` instead.",
            "Restore into a new table: `aws dynamodb restore-table-to-point-in-time "
            "--source-table-name TABLE --target-table-name TABLE-restored "
            "--restore-date-time YYYY-MM-DDTHH:MM:SSZ`, then wait for it: `aws dynamodb wait "
            "table-exists --table-name TABLE-restored`.",
            "Copy the damaged items back from `TABLE-restored`, or point the application at "
            "it. A restored table does not carry over auto scaling, IAM policies, CloudWatch "
            "alarms, tags, streams, TTL or point-in-time recovery: set them again before it "
            "serves (`ialr backup aws enable-pitr TABLE-restored`).",
            "Delete the restored table once the data is back; record what was lost.",
        ),
    ),
    AwsScenario.S3_PREVIOUS_VERSION: AwsProcedure(
        title="An S3 object overwritten or deleted by mistake",
        when="an object in a versioned bucket was replaced by bad content or deleted",
        drill="ialr recovery aws s3 BUCKET KEY",
        rehearsal="copies the object to a scratch key under `ialr-drill/`, overwrites the "
        "copy, restores its previous version with the same server-side copy a recovery uses, "
        "compares the SHA-256 with the original and deletes every version of the scratch "
        "key; the object itself is only read",
        steps=(
            "Check that the bucket keeps versions: `ialr backup aws audit BUCKET` reports "
            "versioning that is off or suspended (then no earlier version exists).",
            "List the object's versions and pick the last good one by its time: `aws s3api "
            "list-object-versions --bucket BUCKET --prefix KEY`.",
            "Restore it: `ialr backup aws s3-restore BUCKET KEY --version-id VERSION` (without "
            "`--version-id`: the previous version; for a deleted object, the last version before "
            "the delete, which only put a marker on top). The version is copied on top inside "
            "S3; nothing is deleted, the bad version stays in the history.",
            "Check the content: the command prints the SHA-256 of the restored bytes; compare "
            "it with what the application expects.",
            "With cross-region replication the restored version replicates like any write; "
            "`ialr backup aws audit BUCKET` checks that replication (with RTC) is on.",
        ),
    ),
}


def _count(value: int | None) -> str:
    return "n/a" if value is None else str(value)


def _measured(result: DrillResult | None) -> str:
    if result is None:
        return "_Not drilled yet: run the command above._"
    rto = "n/a" if result.rto_s is None else format_duration(result.rto_s)
    rpo = "n/a" if result.rpo_s is None else format_duration(result.rpo_s)
    return "\n".join([
        f"| last drill | {result.started_at.strftime('%Y-%m-%d %H:%M UTC')} |",
        "|---|---|",
        f"| result | {result.status.value} |",
        f"| RTO (disaster → application answers) | {rto} (target < "
        f"{format_duration(result.rto_target_s)}) |",
        f"| RPO (last committed write lost) | {rpo} (target ≤ "
        f"{format_duration(result.rpo_target_s)}) |",
        f"| database size | {format_size(result.database_bytes)} |",
        f"| WAL segments replayed | {result.wal_segments} |",
        f"| committed writes lost | {_count(result.writes_lost)} |",
        f"| data check | {result.detail} |",
    ])  # fmt: skip


def _measured_on_lab(result: DrillResult | None) -> list[str]:
    if result is None:
        return ["_Not drilled on the lab yet: run the command above._"]
    rto = "n/a" if result.rto_s is None else format_duration(result.rto_s)
    rpo = "n/a" if result.rpo_s is None else format_duration(result.rpo_s)
    restore = "n/a" if result.restore_s is None else format_duration(result.restore_s)
    return [
        f"| last lab drill | {result.started_at.strftime('%Y-%m-%d %H:%M UTC')} |",
        "|---|---|",
        f"| result | {result.status.value} |",
        f"| RTO as users saw it (disaster → first write on the restored server) | {rto} "
        f"(target < "
        f"{format_duration(result.rto_target_s)}) |",
        f"| of which the restore (files, WAL replay, start) | {restore} |",
        f"| RPO (last committed heartbeat lost) | {rpo} (target ≤ "
        f"{format_duration(result.rpo_target_s)}) |",
        f"| WAL segments replayed | {result.wal_segments} |",
        f"| committed writes lost | {_count(result.writes_lost)} |",
        f"| data check | {result.detail} |",
    ]  # fmt: skip


def _drilled_at(started: str) -> str:
    try:
        moment = datetime.fromisoformat(started.replace("Z", "+00:00"))
    except ValueError:
        return started
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _restore_time(result: AwsDrillResult) -> str:
    target = result.details.get("rto_target_s")
    limit = "" if target is None else f" (target ≤ {format_duration(float(target))})"
    return f"{_ms(result.rto_s)}{limit}"


def _short(digest: object) -> str:
    return f"{str(digest)[:12]}…" if digest else "n/a"


def _seconds(value: object) -> str:
    return _ms(None if value is None else float(str(value)))


def _dynamodb_rows(result: AwsDrillResult) -> list[str]:
    d = result.details
    source, restored = _short(d.get("hash_source")), _short(d.get("hash_restored"))
    content = (
        f"content SHA-256 matches ({source})"
        if d.get("content_matches")
        else f"content DIFFERS: {source} in the table, {restored} restored"
    )
    items = f"{d.get('items_source', 'n/a')} items in the table, {d.get('items_restored', 'n/a')}"
    return [
        f"| restore time (restore accepted → scratch table ACTIVE) | {_restore_time(result)} |",
        f"| RPO (latest restorable time behind the drill's start) | {_ms(result.rpo_s)} |",
        f"| data compared | {items} restored; {content} |",
        f"| waited for the restore point to be restorable | {_seconds(d.get('window_wait_s'))} |",
        f"| table | `{d.get('table', 'n/a')}` at {d.get('endpoint', 'AWS')} |",
    ]  # fmt: skip


def _s3_rows(result: AwsDrillResult) -> list[str]:
    d = result.details
    original, restored = _short(d.get("sha256_original")), _short(d.get("sha256_restored"))
    content = (
        f"SHA-256 of the restored version matches the original ({original})"
        if d.get("content_matches")
        else f"SHA-256 DIFFERS: original {original}, restored {restored}"
    )
    where = f"`s3://{d.get('bucket', '?')}/{d.get('key', '?')}` at {d.get('endpoint', 'AWS')}"
    return [
        f"| restore time (bad overwrite → previous version current) | {_restore_time(result)} |",
        f"| RPO (the previous version's bytes lost) | {_ms(result.rpo_s)} |",
        f"| data compared | {content} |",
        f"| object | {where} |",
    ]  # fmt: skip


def _measured_aws(scenario: AwsScenario, result: AwsDrillResult | None) -> list[str]:
    if result is None:
        return ["_Never drilled: run the command above._"]
    rows = _dynamodb_rows if scenario == AwsScenario.DYNAMODB_PITR else _s3_rows
    return [
        f"| last drill | {_drilled_at(result.started)} |",
        "|---|---|",
        f"| result | {'passed' if result.passed else 'failed'} |",
        *rows(result),
    ]


def _ms(value: float | None) -> str:
    return "n/a" if value is None else format_duration(value)


INTRO = [
    "# Recovery procedures",
    "",
    "<!-- Generated by `ialr recovery docs` from the last recorded drills; do not edit. -->",
    "",
    "Each PostgreSQL procedure is rehearsed by a drill that causes the disaster on a real",
    "PostgreSQL, restores from the backup repository and measures **RTO** (from the",
    "disaster until the application's query answers again) and **RPO** (the last committed",
    "heartbeat before the disaster minus the newest heartbeat in the restored database; the",
    "drill writes one every 50 ms). Drill results live in `$IALR_STATE_DIR/history/recovery/`.",
    "",
    "`ialr recovery test --lab` runs the same disasters on the lab's writer (behind the",
    "`api->db` link) while the load generator sends orders: there the RTO is what users",
    "saw, from the disaster to their first successful write served by the restored server",
    "(writes a damaged writer still serves in between do not end the outage), and the",
    "restored server takes the writer's place (same port, `api->db` repointed).",
    "",
    "The AWS procedures (DynamoDB, S3) are rehearsed by `ialr recovery aws …` on scratch",
    "copies, never on the data itself; they record the restore time and whether the",
    "restored content is identical in the same history.",
    "",
    "## Before any disaster",
    "",
    "1. Take base backups on a schedule: `ialr backup run postgresql://… --repo REPO` "
    "(`REPO` is a directory, or `s3://BUCKET/PREFIX` with `--region`, `--profile`, "
    "`--endpoint-url`).",
    "2. Stream WAL continuously into the same repository, so that point-in-time recovery "
    "reaches the last committed write: `ialr backup wal-receive postgresql://… --repo REPO` "
    "(`pg_receivewal --synchronous` under a replication slot; a local directory).",
    "3. Prove the backups: `ialr backup verify latest --repo REPO` restores into a scratch "
    "server and compares row counts and content checksums with the backup's snapshot.",
    "4. Prune: `ialr backup prune --repo REPO --keep-last 7 --daily 14 --weekly 8 "
    "--monthly 12` (`--dry-run` first); WAL a kept backup needs is never removed.",
    "5. On AWS: point-in-time recovery on every table (`ialr backup aws enable-pitr TABLE`), "
    "versioning, the backup lifecycle rule and replication on every bucket "
    "(`ialr backup aws enable-versioning|set-lifecycle|set-replication`), checked by "
    "`ialr backup aws audit`.",
    "6. Rehearse: `ialr recovery test` and `ialr recovery aws dynamodb|s3 …`, then "
    "`ialr recovery docs` to refresh this file.",
    "",
]


def _postgres_section(
    scenario: Scenario, result: DrillResult | None, lab: DrillResult | None
) -> list[str]:
    procedure = PROCEDURES[scenario]
    lines = [f"## {procedure.title}", "", f"When: {procedure.when}.", "",
             f"Drill: `ialr recovery test {scenario.value}`", "", "Steps:", ""]  # fmt: skip
    lines += [f"{n}. {step}" for n, step in enumerate(procedure.steps, start=1)]
    lines += ["", _measured(result), ""]
    lines += [f"On the lab, under the load generator's traffic: "
              f"`ialr recovery test --lab {scenario.value}`", ""]  # fmt: skip
    return [*lines, *_measured_on_lab(lab), ""]


def _aws_section(scenario: AwsScenario, result: AwsDrillResult | None) -> list[str]:
    procedure = AWS_PROCEDURES[scenario]
    lines = [f"## {procedure.title}", "", f"When: {procedure.when}.", "",
             f"Drill: `{procedure.drill}` — {procedure.rehearsal}.", "", "Steps:", ""]  # fmt: skip
    lines += [f"{n}. {step}" for n, step in enumerate(procedure.steps, start=1)]
    return [*lines, "", *_measured_aws(scenario, result), ""]


def render(
    results: Mapping[Scenario, DrillResult],
    lab: Mapping[Scenario, DrillResult] | None = None,
    aws: Mapping[AwsScenario, AwsDrillResult] | None = None,
) -> str:
    """The whole document: every PostgreSQL scenario (local and lab), then every AWS one."""
    lines = list(INTRO)
    for scenario in PROCEDURES:
        lines += _postgres_section(scenario, results.get(scenario), (lab or {}).get(scenario))
    for aws_scenario in AWS_PROCEDURES:
        lines += _aws_section(aws_scenario, (aws or {}).get(aws_scenario))
    return "\n".join(lines)

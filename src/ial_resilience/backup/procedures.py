"""docs/RECOVERY_PROCEDURES.md, generated from the last recorded drill of each scenario."""

from __future__ import annotations

from dataclasses import dataclass

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


def render(
    results: dict[Scenario, DrillResult], lab: dict[Scenario, DrillResult] | None = None
) -> str:
    lines = [
        "# Recovery procedures",
        "",
        "<!-- Generated by `ialr recovery docs` from the last recorded drills; do not edit. -->",
        "",
        "Each procedure is rehearsed by a drill that causes the disaster on a real PostgreSQL,",
        "restores from the backup repository and measures **RTO** (from the disaster until the",
        "application's query answers again) and **RPO** (the last committed heartbeat before",
        "the disaster minus the newest heartbeat in the restored database; the drill writes",
        "one every 50 ms). Drill results live in `$IALR_STATE_DIR/history/recovery/`.",
        "",
        "`ialr recovery test --lab` runs the same disasters on the lab's writer (behind the",
        "`api->db` link) while the load generator sends orders: there the RTO is what users",
        "saw, from the disaster to their first successful write served by the restored server",
        "(writes a damaged writer still serves in between do not end the outage), and the",
        "restored server takes the writer's place (same port, `api->db` repointed).",
        "",
        "## Before any disaster",
        "",
        "1. Take base backups on a schedule: `ialr backup run postgresql://… --repo REPO`.",
        "2. Stream WAL continuously into the same repository, so that point-in-time recovery "
        "reaches the last committed write: `ialr backup wal-receive postgresql://… --repo REPO` "
        "(`pg_receivewal --synchronous` under a replication slot).",
        "3. Prove the backups: `ialr backup verify latest --repo REPO` restores into a scratch "
        "server and compares row counts and content checksums with the backup's snapshot.",
        "4. Prune: `ialr backup prune --repo REPO --keep-last 7 --daily 14 --weekly 8 "
        "--monthly 12` (`--dry-run` first); WAL a kept backup needs is never removed.",
        "5. Rehearse: `ialr recovery test`, then `ialr recovery docs` to refresh this file.",
        "",
    ]
    for scenario, procedure in PROCEDURES.items():
        lines += [f"## {procedure.title}", "", f"When: {procedure.when}.", "",
                  f"Drill: `ialr recovery test {scenario.value}`", "", "Steps:", ""]  # fmt: skip
        lines += [f"{n}. {step}" for n, step in enumerate(procedure.steps, start=1)]
        lines += ["", _measured(results.get(scenario)), ""]
        lines += [f"On the lab, under the load generator's traffic: "
                  f"`ialr recovery test --lab {scenario.value}`", ""]  # fmt: skip
        lines += [*_measured_on_lab((lab or {}).get(scenario)), ""]
    return "\n".join(lines)

"""``ialr backup`` and ``ialr recovery``: backups proven by restore, recovery drills.

Thin: parse, call :mod:`ial_resilience.backup`, print (Rich tables and progress on stderr, or
``--json``). ``--repo`` is a directory or ``s3://BUCKET[/PREFIX]`` (see ``_backup_repo``).
Exit codes: 0 ok, 3 bad input (also: no such bucket), 5 a backup / verify / restore step
failed or AWS refused (credentials); ``ialr recovery test`` exits 1 when a drill misses its
targets.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from ial_resilience import history as results
from ial_resilience.aws import history as aws_history
from ial_resilience.backup import drills, procedures, restore, retention, sources, verify
from ial_resilience.backup.models import Compression, PhysicalFormat, SnapshotMode, SourceKind
from ial_resilience.backup.pgtools import connect
from ial_resilience.backup.repository import BackupStore, LocalRepository
from ial_resilience.backup.wal import WalReceiver
from ial_resilience.cli._aws_options import RepoEndpoint, RepoProfile, RepoRegion
from ial_resilience.cli._backup_repo import Aws, Repo, local_copy, local_directory, open_repo
from ial_resilience.errors import BackupError, ExitCode, IalrError, InputError
from ial_resilience.units import format_duration, format_size

app = typer.Typer(
    help="Backups: run, list, verify (by real restore), restore, prune.\n\n"
    "--repo is a local directory or s3://BUCKET/PREFIX (prefix optional); with S3, --region, "
    "--profile and --endpoint-url say where (defaults: AWS_REGION, AWS_PROFILE, "
    "AWS_ENDPOINT_URL). A backup is listed only once its manifest is written, after every "
    "file: an interrupted backup is never listed as complete.",
    no_args_is_help=True,
)
recovery_app = typer.Typer(help="Recovery drills that measure RTO and RPO.", no_args_is_help=True)

AsJson = Annotated[bool, typer.Option("--json", help="print JSON instead of tables")]
BackupId = Annotated[str, typer.Argument(help="backup id, or `latest`")]


WIDE_LIST = 110  # terminal columns from which `backup list` shows kind and start time


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


@contextmanager
def _progress(title: str, quiet: bool) -> Iterator[Callable[[str], None]]:
    """A spinner with the current step and elapsed time on stderr (none with ``--json``)."""
    if quiet:
        yield lambda _step: None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(title)
        yield lambda step: progress.update(task, description=f"{title}: {step}")


def _choice(
    value: str, enum: type[Compression] | type[PhysicalFormat] | type[SnapshotMode], flag: str
) -> Any:
    try:
        return enum(value)
    except ValueError:
        raise InputError(
            f"{flag}: {value!r}; expected one of {', '.join(e.value for e in enum)}"
        ) from None


# -- backup -------------------------------------------------------------------------------
@app.command("run")
def run(
    source: Annotated[str, typer.Argument(help="postgresql:// DSN, SQLite file or directory")],
    repo: Repo,
    kind: Annotated[
        str | None, typer.Option(help="physical, logical, sqlite or directory (default: guess)")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="physical backups: tar or plain")] = "tar",
    compress: Annotated[str, typer.Option(help="none or zstd")] = "none",
    max_bytes: Annotated[
        str | None, typer.Option(help="local repository: refuse to grow it past this size")
    ] = None,
    snapshot: Annotated[
        str, typer.Option(help="databases: full (rows + checksums), counts, or none")
    ] = "full",
    max_rate: Annotated[
        str | None, typer.Option(help="physical: throttle pg_basebackup, e.g. 10M (kB/s: 32k)")
    ] = None,
    as_json: AsJson = False,
    region: RepoRegion = None,
    profile: RepoProfile = None,
    endpoint_url: RepoEndpoint = None,
) -> None:
    """Take a backup; it is listed only once every file is written, hashed and committed.

    Into S3 the files are uploaded first and the manifest last; a backup interrupted before
    its manifest stays unlisted (its objects remain under backups/ID/ until removed).
    """
    store = open_repo(repo, Aws(region, profile, endpoint_url), existing=False, max_bytes=max_bytes)
    request = sources.BackupRequest(
        source=source,
        kind=sources.detect_kind(source, kind),
        compression=_choice(compress, Compression, "--compress"),
        format=_choice(fmt, PhysicalFormat, "--format"),
        max_rate=max_rate,
        snapshot=_choice(snapshot, SnapshotMode, "--snapshot"),
    )
    started = time.time()
    try:
        with _progress(f"backup {request.kind.value}", as_json) as step:
            manifest = sources.run_backup(store, request, on_step=step)
    except BackupError as error:
        results.save(
            [
                results.record_backup(
                    backup_id=None,
                    source=source,
                    kind=request.kind.value,
                    started=started,
                    ended=time.time(),
                    success=False,
                    error=error.message,
                )
            ]
        )
        raise
    results.save(
        [
            results.record_backup(
                backup_id=manifest.id,
                source=source,
                kind=request.kind.value,
                started=started,
                ended=time.time(),
                success=True,
                size=manifest.size,
            )
        ]
    )
    if as_json:
        _print_json(manifest.summary())
        return
    _console().print(
        f"backup [bold]{manifest.id}[/] complete: {len(manifest.files)} files, "
        f"{format_size(manifest.size)}, "
        f"{format_duration((manifest.ended_at - manifest.started_at).total_seconds())}"
    )


@app.command("list")
def list_(
    repo: Repo,
    as_json: AsJson = False,
    region: RepoRegion = None,
    profile: RepoProfile = None,
    endpoint_url: RepoEndpoint = None,
) -> None:
    """List the complete backups, oldest first (backups in progress are never listed)."""
    manifests = open_repo(repo, Aws(region, profile, endpoint_url)).manifests()
    if as_json:
        _print_json([m.summary() for m in manifests])
        return
    console = _console()
    wide = console.width >= WIDE_LIST  # the id already holds the kind and the start time
    table = Table(Column("id", no_wrap=True))
    if wide:
        table.add_column("kind", no_wrap=True)
    table.add_column("source", overflow="fold")
    if wide:
        table.add_column("started (UTC)", no_wrap=True)
    table.add_column("size", no_wrap=True, justify="right")
    table.add_column("WAL", overflow="fold")
    for m in manifests:
        wal = "" if m.wal is None else f"{m.wal.start_segment}…{m.wal.end_segment[-8:]}"
        started = m.started_at.strftime("%Y-%m-%d %H:%M:%S")
        cells = [m.id, m.kind.value, m.source, started] if wide else [m.id, m.source]
        table.add_row(*cells, format_size(m.size), wal)
    console.print(table if manifests else "no backups")


@app.command("verify")
def verify_(
    repo: Repo,
    backup_id: BackupId = "latest",
    no_restore: Annotated[
        bool, typer.Option("--no-restore", help="checksums (and pg_verifybackup) only")
    ] = False,
    as_json: AsJson = False,
    region: RepoRegion = None,
    profile: RepoProfile = None,
    endpoint_url: RepoEndpoint = None,
) -> None:
    """Checksums, pg_verifybackup, and a real restore compared with the backup's snapshot.

    From S3 the backup's files are downloaded first, so the checksums prove the stored
    objects.
    """
    store = open_repo(repo, Aws(region, profile, endpoint_url))
    manifest = store.manifest(backup_id)
    with (
        _progress(f"verify {manifest.id}", as_json) as step,
        local_copy(store, manifest, with_wal=False, step=step) as local,
    ):
        started = time.time()
        report = verify.verify(local, manifest, by_restore=not no_restore, on_step=step)
    results.save(
        [
            results.record_backup(
                backup_id=manifest.id,
                source=manifest.source,
                kind=manifest.kind.value,
                started=started,
                ended=time.time(),
                success=report.passed,
                verified=report.passed,
            )
        ]
    )
    if as_json:
        _print_json(report.as_json())
    else:
        table = Table("check", "status", "time", "detail")
        for check in report.checks:
            colour = {"passed": "green", "failed": "red"}.get(check.status.value, "yellow")
            table.add_row(
                check.name,
                f"[{colour}]{check.status.value}[/]",
                format_duration(check.seconds),
                check.detail,
            )
        _console().print(table)
    if not report.passed:
        failed = [c for c in report.checks if c.status == verify.CheckStatus.FAILED]
        raise BackupError(
            f"backup {manifest.id} failed verification: "
            + "; ".join(f"{c.name}: {c.detail}" for c in failed),
            hint="do not rely on this backup; take a new one and find what damaged it",
        )


def _parse_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"--to {text!r} is not an ISO 8601 time such as 2026-11-25T10:00:00Z"
        ) from None
    if when.tzinfo is None:
        raise InputError(
            f"--to {text!r} has no time zone", hint="add Z (UTC) or an offset such as +01:00"
        )
    return when


@app.command("restore")
def restore_(
    backup_id: BackupId,
    repo: Repo,
    target: Annotated[
        str, typer.Option(help="new data directory, database DSN (logical), file or directory")
    ],
    to: Annotated[
        str | None, typer.Option(help="point in time (physical), e.g. 2026-11-25T10:00:00Z")
    ] = None,
    force: Annotated[bool, typer.Option(help="replace a running server / existing data")] = False,
    check: Annotated[
        bool, typer.Option(help="physical: start the restored server until recovery ends")
    ] = True,
    as_json: AsJson = False,
    region: RepoRegion = None,
    profile: RepoProfile = None,
    endpoint_url: RepoEndpoint = None,
) -> None:
    """Restore a backup; physical backups replay the repository's WAL (to --to or the end).

    From S3 the backup and its database's WAL are downloaded to a temporary directory first.
    """
    store = open_repo(repo, Aws(region, profile, endpoint_url))
    manifest = store.manifest(backup_id)
    when = _parse_time(to)
    with (
        _progress(f"restore {manifest.id}", as_json) as step,
        local_copy(store, manifest, with_wal=True, step=step) as local,
    ):
        result = restore.restore(local, manifest, target, to=when, force=force, on_step=step)
        if check and manifest.kind == SourceKind.POSTGRES_PHYSICAL:
            step("replaying WAL")
            restore.start_restored(Path(target)).stop()
            shutil.rmtree(restore.wal_stage_dir(Path(target)), ignore_errors=True)
    if as_json:
        _print_json(result.__dict__)
        return
    text = f"restored {result.backup_id} to {result.target}"
    if result.recovered_to:
        text += f" as of {result.recovered_to}"
    if result.window:
        text += f" (recoverable window {result.window[0]} → {result.window[1]})"
    _console().print(text)


@app.command("prune")
def prune(
    repo: Repo,
    keep_last: Annotated[int, typer.Option(min=0, help="keep the N newest")] = 0,
    hourly: Annotated[int, typer.Option(min=0, help="keep one per hour, N hours")] = 0,
    daily: Annotated[int, typer.Option(min=0, help="keep one per day, N days")] = 0,
    weekly: Annotated[int, typer.Option(min=0, help="keep one per ISO week, N weeks")] = 0,
    monthly: Annotated[int, typer.Option(min=0, help="keep one per month, N months")] = 0,
    dry_run: Annotated[bool, typer.Option(help="list what would be removed")] = False,
    as_json: AsJson = False,
    region: RepoRegion = None,
    profile: RepoProfile = None,
    endpoint_url: RepoEndpoint = None,
) -> None:
    """Remove backups no rule keeps (per source), and WAL no kept backup needs.

    A backup's manifest is removed before its files, so an interrupted prune never leaves a
    listed backup with files missing.
    """
    policy = retention.RetentionPolicy(keep_last, hourly, daily, weekly, monthly)
    if policy.is_empty:
        raise InputError(
            "no retention rule given: pruning would remove every backup",
            hint="pass e.g. --keep-last 7 --daily 14 --weekly 8",
        )
    store = open_repo(repo, Aws(region, profile, endpoint_url))
    manifests = store.manifests()
    decision = retention.decide_repository(policy, manifests)
    kept = [m for m in manifests if m.id in decision.keep]
    wal = _removable_wal(store, kept)
    if not dry_run:
        for backup_id in decision.remove:
            store.delete_backup(backup_id)
        for key in wal:
            store.delete(key)
    if as_json:
        _print_json(
            {
                "dry_run": dry_run,
                "keep": {k: list(v) for k, v in decision.keep.items()},
                "remove": list(decision.remove),
                "remove_wal": wal,
            }
        )
        return
    verb = "would remove" if dry_run else "removed"
    console = _console()
    for backup_id, reasons in sorted(decision.keep.items()):
        console.print(f"keep   {backup_id} ({', '.join(reasons)})")
    for backup_id in decision.remove:
        console.print(f"{verb} {backup_id}")
    console.print(f"{verb} {len(wal)} WAL segment(s) older than every kept backup")


def _removable_wal(store: BackupStore, kept: list[Any]) -> list[str]:
    keys = store.list("wal/")
    by_system: dict[str, list[str]] = {}
    for key in keys:
        _, system, name = key.split("/", 2)
        by_system.setdefault(system, []).append(name)
    removable = []
    for system, names in by_system.items():
        removable += [f"wal/{system}/{n}" for n in retention.removable_wal(kept, system, names)]
    return removable


@app.command("wal-receive")
def wal_receive(
    source: Annotated[str, typer.Argument(help="postgresql:// DSN of the server")],
    repo: Repo,
) -> None:
    """Stream the server's WAL into the repository (pg_receivewal) until Ctrl-C; enables PITR.

    The repository must be a local directory (pg_receivewal writes files in place).
    """
    directory = local_directory(repo, "wal-receive")
    with connect(source, action="read the cluster identity") as conn:
        row = conn.execute("SELECT system_identifier::text FROM pg_control_system()").fetchone()
    assert row is not None
    receiver = WalReceiver(source, LocalRepository(directory).wal_dir(row[0]))
    try:
        receiver.start()
        _console().print(f"streaming WAL into {receiver.wal_dir} (Ctrl-C to stop)")
        assert receiver.process is not None
        code = receiver.process.wait()
        raise BackupError(f"pg_receivewal stopped (exit {code}); see {receiver.log}")
    finally:
        receiver.stop()


# -- recovery -----------------------------------------------------------------------------
def _run_one(scenario: drills.Scenario, rows: int, scale: int, quiet: bool) -> drills.DrillResult:
    started = datetime.now(UTC)
    with _progress(f"drill {scenario.value}", quiet) as step:
        try:
            return drills.run_drill(scenario, rows=rows, pgbench_scale=scale, on_step=step)
        except IalrError as error:
            return drills.DrillResult(
                scenario=scenario,
                started_at=started,
                status=drills.DrillStatus.FAILED,
                rto_s=None,
                rpo_s=None,
                detail=f"drill failed: {error.message}",
            )


def _run_on_lab(
    chosen: list[drills.Scenario], state_dir: Path | None, keep_lab: bool, quiet: bool
) -> list[drills.DrillResult]:
    from ial_resilience.backup import lab_drills

    with _progress("lab drills", quiet) as step:
        return lab_drills.run_lab_drills(
            chosen, state_dir=state_dir, keep_lab=keep_lab, on_step=step
        )


def _name(result: drills.DrillResult) -> str:
    return f"lab-{result.scenario.value}" if result.lab else result.scenario.value


def _ms(value: float | None) -> str:
    return "n/a" if value is None else format_duration(value)


@recovery_app.command("test")
def recovery_test(
    scenario: Annotated[
        str | None, typer.Argument(help="dropped-table, writer-lost or corruption (default: all)")
    ] = None,
    rows: Annotated[int, typer.Option(min=1, help="rows in the drill's orders table")] = 10_000,
    pgbench_scale: Annotated[
        int, typer.Option(min=0, help="also fill with pgbench -i at this scale (bigger RTO)")
    ] = 0,
    on_lab: Annotated[
        bool,
        typer.Option(
            "--lab",
            help="drill on the lab's database while the load generator runs (RTO as users "
            "saw it); starts the lab for the state dir if none runs and stops it afterwards",
        ),
    ] = False,
    keep_lab: Annotated[
        bool, typer.Option("--keep-lab", help="with --lab: leave a lab this command started")
    ] = False,
    state_dir: Annotated[
        Path | None, typer.Option("--state-dir", help="with --lab: the lab/agent state dir")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Run recovery drills on a real PostgreSQL; record RTO/RPO; exit 0 only if all pass.

    Without --lab each drill runs on a private PostgreSQL.

    With --lab the drills run one after the other on the lab's writer, under live traffic.

    RTO: from the disaster to the load generator's first successful write on the restored
    server; RPO: heartbeats.

    The restored server replaces the writer on its port; a kept lab's replica is rebuilt.

    --rows and --pgbench-scale apply to the local drills only.
    """
    chosen = [drills.parse_scenario(scenario)] if scenario else list(drills.Scenario)
    if on_lab:
        results = _run_on_lab(chosen, state_dir, keep_lab, as_json)
    else:
        results = [_run_one(s, rows, pgbench_scale, as_json) for s in chosen]
    history = drills.history_dir(state_dir)
    paths = [drills.record(r, history) for r in results]
    if as_json:
        _print_json(
            [
                {**r.model_dump(mode="json"), "recorded": str(p)}
                for r, p in zip(results, paths, strict=True)
            ]
        )
    else:
        table = Table("scenario", "RTO", "target", "RPO", "target", "data", "result")
        for r in results:
            colour = "green" if r.status == drills.DrillStatus.PASSED else "red"
            table.add_row(
                _name(r),
                _ms(r.rto_s),
                f"< {format_duration(r.rto_target_s)}",
                _ms(r.rpo_s),
                f"≤ {format_duration(r.rpo_target_s)}",
                "ok" if r.data_ok else "differs",
                f"[{colour}]{r.status.value}[/]",
            )
        console = _console()
        console.print(table)
        for r in results:
            if r.status != drills.DrillStatus.PASSED:
                console.print(f"{_name(r)}: {r.detail}")
            elif r.lab:
                console.print(f"{_name(r)}: restore {_ms(r.restore_s)} of the RTO; {r.detail}")
        console.print(f"recorded in {history}")
    if any(r.status != drills.DrillStatus.PASSED for r in results):
        raise typer.Exit(int(ExitCode.DEVIATED))


@recovery_app.command("docs")
def recovery_docs(
    out: Annotated[Path, typer.Option(help="file to write")] = Path("docs/RECOVERY_PROCEDURES.md"),
    state_dir: Annotated[
        Path | None,
        typer.Option("--state-dir", help="read the drills `recovery test --state-dir` recorded"),
    ] = None,
) -> None:
    """Write RECOVERY_PROCEDURES.md from the last recorded drill of each scenario.

    PostgreSQL scenarios (`ialr recovery test`, with and without --lab) and AWS scenarios
    (`ialr recovery aws dynamodb|s3`) are read from the same history directory; a scenario
    with no recorded drill is shown as never drilled.
    """
    history = drills.history_dir(state_dir)
    results = drills.latest_results(history)
    on_aws = aws_history.latest_results(history)
    text = procedures.render(results, drills.latest_results(history, lab=True), on_aws)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    _console().print(
        f"wrote {out} ({len(results)} of {len(drills.Scenario)} scenarios drilled; "
        f"AWS: {len(on_aws)} of {len(aws_history.AwsScenario)})"
    )


# AWS commands (DynamoDB, S3, the 00d phase) live in their own module.
from ial_resilience.cli import backup_aws  # noqa: E402

backup_aws.register(app, recovery_app)

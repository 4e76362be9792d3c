"""AWS backup commands: ``ialr backup aws …`` (DynamoDB PITR and backups, S3 versioning,
lifecycle, replication, audit, the 00d phase) and ``ialr recovery aws …`` (restore drills)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ial_resilience.aws import dynamodb, dynamodb_drill, phases, s3, s3_audit, s3_drill
from ial_resilience.aws._session import AwsTarget
from ial_resilience.aws.history import DrillResult, record
from ial_resilience.cli._aws_options import Endpoint, Profile, Region
from ial_resilience.errors import ExitCode, InputError
from ial_resilience.units import format_duration, parse_duration

aws_backup_app = typer.Typer(
    help="AWS backups: DynamoDB PITR and backups, S3 versioning/lifecycle/replication, audit, "
    "the 00d CloudFormation phase.",
    no_args_is_help=True,
)
aws_recovery_app = typer.Typer(
    help="AWS restore drills (DynamoDB point-in-time restore, S3 previous version).",
    no_args_is_help=True,
)
console = Console(highlight=False, soft_wrap=True)

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
RtoTarget = Annotated[str, typer.Option(help="Restore time that still passes, e.g. 15m.")]


def register(backup_app: typer.Typer, recovery_app: typer.Typer) -> None:
    """Add the AWS commands to ``ialr backup`` and ``ialr recovery``."""
    backup_app.add_typer(aws_backup_app, name="aws")
    recovery_app.add_typer(aws_recovery_app, name="aws")


def _target(region: str | None, profile: str | None, endpoint: str | None) -> AwsTarget:
    return AwsTarget.resolve(region=region, profile=profile, endpoint_url=endpoint)


def _emit(as_json: bool, payload: Any, lines: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(payload, indent=2, default=str))
    else:
        for line in lines:
            console.print(line, markup=False)


def _seconds(text: str, option: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise InputError(f"{option}: {error}", hint=f"write {option} like 15m or 90s") from None


@aws_backup_app.command("pitr-status")
def pitr_status(
    table: str, region: Region = None, profile: Profile = None, endpoint_url: Endpoint = None,
    as_json: AsJson = False,
) -> None:  # fmt: skip
    """Show point-in-time recovery of a DynamoDB table (exit 1 when it is off)."""
    status = dynamodb.pitr_status(_target(region, profile, endpoint_url), table)
    window = status.as_json()
    _emit(as_json, window, [
        f"{table}: point-in-time recovery {'ENABLED' if status.enabled else 'DISABLED'}",
        *([f"  restorable from {window['earliest_restorable']} to "
           f"{window['latest_restorable']} ({status.recovery_days} days kept)"]
          if status.enabled else [f"  enable it: ialr backup aws enable-pitr {table}"]),
    ])  # fmt: skip
    if not status.enabled:
        raise typer.Exit(ExitCode.DEVIATED)


@aws_backup_app.command("enable-pitr")
def enable_pitr(
    table: str,
    recovery_days: Annotated[int | None, typer.Option(help="Days kept, 1-35")] = None,
    region: Region = None, profile: Profile = None, endpoint_url: Endpoint = None,
    as_json: AsJson = False,
) -> None:  # fmt: skip
    """Enable point-in-time recovery on a DynamoDB table (idempotent)."""
    status = dynamodb.enable_pitr(_target(region, profile, endpoint_url), table, recovery_days)
    _emit(as_json, status.as_json(), [
        f"{table}: point-in-time recovery ENABLED ({status.recovery_days} days kept)"
    ])  # fmt: skip


@aws_backup_app.command("dynamodb-backup")
def dynamodb_backup(
    table: str,
    name: Annotated[str | None, typer.Option(help="Backup name (default: table + time)")] = None,
    region: Region = None, profile: Profile = None, endpoint_url: Endpoint = None,
    as_json: AsJson = False,
) -> None:  # fmt: skip
    """Take an on-demand backup of a DynamoDB table."""
    backup = dynamodb.create_backup(_target(region, profile, endpoint_url), table, name)
    _emit(as_json, backup.as_json(), [f"{backup.name}: {backup.status}", f"  {backup.arn}"])


@aws_backup_app.command("dynamodb-backups")
def dynamodb_backups(
    table: Annotated[str | None, typer.Argument(help="Only this table's backups")] = None,
    region: Region = None, profile: Profile = None, endpoint_url: Endpoint = None,
    as_json: AsJson = False,
) -> None:  # fmt: skip
    """List on-demand DynamoDB backups."""
    found = dynamodb.list_backups(_target(region, profile, endpoint_url), table)
    rows = [b.as_json() for b in found]
    _emit(as_json, rows, [f"{r['created']}  {r['table']}  {r['name']}  {r['status']}"
                          for r in rows] or ["no backups"])  # fmt: skip


@aws_backup_app.command("enable-versioning")
def enable_versioning(
    bucket: str, region: Region = None, profile: Profile = None, endpoint_url: Endpoint = None,
    as_json: AsJson = False,
) -> None:  # fmt: skip
    """Enable versioning on an S3 bucket."""
    state = s3.enable_versioning(_target(region, profile, endpoint_url), bucket)
    _emit(as_json, {"bucket": bucket, "versioning": str(state)}, [f"{bucket}: versioning {state}"])


@aws_backup_app.command("set-lifecycle")
def set_lifecycle(
    bucket: str,
    noncurrent_days: Annotated[int, typer.Option(help="Expire non-current versions after")] = 30,
    abort_multipart_days: Annotated[int, typer.Option(help="Abort incomplete uploads after")] = 7,
    region: Region = None, profile: Profile = None, endpoint_url: Endpoint = None,
    as_json: AsJson = False,
) -> None:  # fmt: skip
    """Add the backup lifecycle rule (other rules of the bucket are kept)."""
    target = _target(region, profile, endpoint_url)
    rules = s3.put_backup_lifecycle(target, bucket, noncurrent_days, abort_multipart_days)
    _emit(as_json, {"bucket": bucket, "rules": rules}, [
        f"{bucket}: non-current versions expire after {noncurrent_days} d, incomplete multipart "
        f"uploads aborted after {abort_multipart_days} d ({len(rules)} rule(s) in total)"
    ])  # fmt: skip


@aws_backup_app.command("set-replication")
def set_replication(
    bucket: str,
    destination: Annotated[str, typer.Argument(help="Destination bucket (another region)")],
    role_arn: Annotated[str | None, typer.Option(help="Existing replication role")] = None,
    create_role: Annotated[str | None, typer.Option(help="Create a role with this name")] = None,
    storage_class: Annotated[str, typer.Option(help="Replica storage class")] = "STANDARD",
    region: Region = None, profile: Profile = None, endpoint_url: Endpoint = None,
    as_json: AsJson = False,
) -> None:  # fmt: skip
    """Replicate a bucket to another region with Replication Time Control (15 min)."""
    if (role_arn is None) == (create_role is None):
        raise InputError("give exactly one of --role-arn and --create-role",
                         hint="--create-role NAME creates the IAM role S3 needs")  # fmt: skip
    target = _target(region, profile, endpoint_url)
    role = role_arn or s3.create_replication_role(target, str(create_role), bucket, destination)
    config = s3.put_replication(target, bucket, destination, role, storage_class)
    _emit(as_json, {"bucket": bucket, "replication": config}, [
        f"{bucket} → {destination}: replication with RTC {s3.RTC_MINUTES} min, role {role}"
    ])  # fmt: skip


@aws_backup_app.command("s3-restore")
def s3_restore(
    bucket: str, key: str,
    version_id: Annotated[str | None, typer.Option(help="Version to restore (default: previous)")]
    = None,
    region: Region = None, profile: Profile = None, endpoint_url: Endpoint = None,
    as_json: AsJson = False,
) -> None:  # fmt: skip
    """Make an earlier version of an object current again (nothing is deleted)."""
    done = s3.restore_version(_target(region, profile, endpoint_url), bucket, key, version_id)
    _emit(as_json, done.__dict__, [
        f"s3://{bucket}/{key}: version {done.restored_from} restored as {done.new_version_id}",
        f"  sha256 {done.sha256}",
    ])  # fmt: skip


@aws_backup_app.command("audit")
def audit(
    buckets: Annotated[list[str] | None, typer.Argument(help="Buckets (default: all)")] = None,
    require_replication: Annotated[list[str] | None, typer.Option(
        help="Bucket name pattern that must replicate (repeatable); the tag "
        "ialr:replication=required also requires it")] = None,
    region: Region = None, profile: Profile = None, endpoint_url: Endpoint = None,
    as_json: AsJson = False,
) -> None:  # fmt: skip
    """Report every bucket out of the backup policy; exit 1 if any is."""
    policy = s3_audit.AuditPolicy(tuple(require_replication or ()))
    results = s3_audit.audit(_target(region, profile, endpoint_url), policy, buckets or None)
    out = [r for r in results if not r.in_policy]
    if as_json:
        _emit(True, {"buckets": [r.as_json() for r in results], "out_of_policy": len(out)}, [])
    else:
        _print_audit(results)
    if out:
        raise typer.Exit(ExitCode.DEVIATED)


def _print_audit(results: list[s3_audit.BucketAudit]) -> None:
    table = Table("bucket", "region", "status", "findings")
    for r in results:
        findings = "\n".join(s3_audit.EXPLANATIONS[f] for f in r.findings) or "-"
        table.add_row(r.bucket, r.region, "ok" if r.in_policy else "OUT OF POLICY", findings)
    console.print(table)
    bad = sum(not r.in_policy for r in results)
    console.print(f"{len(results)} bucket(s), {bad} out of policy")


@aws_backup_app.command("render-phase")
def render_phase(
    names: Annotated[list[str] | None, typer.Argument(help="Phases (default: all)")] = None,
    output_dir: Annotated[Path, typer.Option(help="Where phases/*.yaml live")] = Path("phases"),
    check: Annotated[bool, typer.Option(help="Only check for drift; exit 1 if any")] = False,
) -> None:
    """Render CloudFormation phases from code into phases/ (or --check for drift)."""
    selected = names or sorted(phases.PHASES)
    if check:
        drifted = [n for n in selected if phases.drifted(n, output_dir)]
        for name in selected:
            state = "DRIFTED" if name in drifted else "up to date"
            console.print(f"{output_dir / phases.get_phase(name).filename}: {state}", markup=False)
        if drifted:
            raise typer.Exit(ExitCode.DEVIATED)
        return
    for name in selected:
        console.print(f"wrote {phases.write_phase(name, output_dir)}", markup=False)


def _report_drill(result: DrillResult, as_json: bool, keep: bool) -> None:
    where = str(record(result)) if keep else None
    if as_json:
        _emit(True, {**result.as_json(), "recorded": where}, [])
    else:
        table = Table("scenario", "RTO", "RPO", "content", "result")
        rpo = "-" if result.rpo_s is None else format_duration(result.rpo_s)
        content = "matches" if result.details.get("content_matches") else "DIFFERS"
        verdict = "PASS" if result.passed else "FAIL"
        table.add_row(result.scenario, format_duration(result.rto_s or 0.0), rpo, content, verdict)
        console.print(table)
        if where:
            console.print(f"recorded in {where}", markup=False)
    if not result.passed:
        raise typer.Exit(ExitCode.DEVIATED)


Record = Annotated[
    bool, typer.Option("--record/--no-record", help="Record the result in the recovery history.")
]


@aws_recovery_app.command("dynamodb")
def drill_dynamodb(
    table: str,
    rto_target: RtoTarget = "15m",
    window_wait: Annotated[str, typer.Option(
        help="How long to wait for the restore point to become restorable")] = "15m",
    region: Region = None, profile: Profile = None, endpoint_url: Endpoint = None,
    as_json: AsJson = False, record_result: Record = True,
) -> None:  # fmt: skip
    """Restore a table to a point in time into a scratch table, compare, measure, clean up."""
    options = dynamodb_drill.DrillOptions(
        rto_target_s=_seconds(rto_target, "--rto-target"),
        window_wait_s=_seconds(window_wait, "--window-wait"),
    )
    result = dynamodb_drill.run_drill(_target(region, profile, endpoint_url), table, options)
    _report_drill(result, as_json, record_result)


@aws_recovery_app.command("s3")
def drill_s3(
    bucket: str, key: str, rto_target: RtoTarget = "15m",
    region: Region = None, profile: Profile = None, endpoint_url: Endpoint = None,
    as_json: AsJson = False, record_result: Record = True,
) -> None:  # fmt: skip
    """Overwrite a copy of an object, restore its previous version, check the content hash."""
    target = _target(region, profile, endpoint_url)
    result = s3_drill.run_drill(target, bucket, key, _seconds(rto_target, "--rto-target"))
    _report_drill(result, as_json, record_result)

"""``ialr backup`` and ``ialr recovery``: backups proven by restore, recovery drills."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Backups: run, list, verify (by real restore), restore, prune.", no_args_is_help=True
)
recovery_app = typer.Typer(help="Recovery drills that measure RTO and RPO.", no_args_is_help=True)

# AWS commands (DynamoDB, S3, the 00d phase) live in their own module.
from ial_resilience.cli import backup_aws  # noqa: E402

backup_aws.register(app, recovery_app)

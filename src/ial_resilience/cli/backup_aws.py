"""AWS backup commands (DynamoDB PITR and backups, S3 versioning/replication/lifecycle)."""

from __future__ import annotations

import typer


def register(backup_app: typer.Typer, recovery_app: typer.Typer) -> None:
    """Add the AWS commands to ``ialr backup`` and ``ialr recovery``."""

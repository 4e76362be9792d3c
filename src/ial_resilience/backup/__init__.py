"""Backups proven by restore, and recovery drills that measure RTO and RPO.

Public API::

    from ial_resilience.backup import (
        LocalRepository, Repository, RepositoryFull,          # where backups live
        BackupRequest, run_backup, detect_kind,               # take a backup
        Manifest, SourceKind, Compression, PhysicalFormat,    # what a backup is
        verify_backup, VerifyReport,                           # prove it
        restore_backup, start_restored,                        # use it
        RetentionPolicy, decide, decide_repository,            # prune it
        Scenario, DrillResult, run_drill,                      # drill it
    )

Internals (``pgtools``, ``snapshot``, ``wal``, ``procedures``) may change without notice.
"""

from ial_resilience.backup.drills import DrillResult, DrillStatus, Scenario, run_drill
from ial_resilience.backup.models import (
    Compression,
    FileEntry,
    Manifest,
    PhysicalFormat,
    SnapshotMode,
    SourceKind,
    TableSnapshot,
    WalRange,
)
from ial_resilience.backup.repository import LocalRepository, Repository, RepositoryFull
from ial_resilience.backup.restore import RestoreResult, start_restored
from ial_resilience.backup.restore import restore as restore_backup
from ial_resilience.backup.retention import RetentionPolicy, decide, decide_repository
from ial_resilience.backup.sources import BackupRequest, detect_kind, run_backup
from ial_resilience.backup.verify import VerifyReport
from ial_resilience.backup.verify import verify as verify_backup

__all__ = [
    "BackupRequest",
    "Compression",
    "DrillResult",
    "DrillStatus",
    "FileEntry",
    "LocalRepository",
    "Manifest",
    "PhysicalFormat",
    "Repository",
    "RepositoryFull",
    "RestoreResult",
    "RetentionPolicy",
    "Scenario",
    "SnapshotMode",
    "SourceKind",
    "TableSnapshot",
    "VerifyReport",
    "WalRange",
    "decide",
    "decide_repository",
    "detect_kind",
    "restore_backup",
    "run_backup",
    "run_drill",
    "start_restored",
    "verify_backup",
]

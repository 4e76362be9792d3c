"""Frozen models of the backup repository: manifests, file entries, snapshots, WAL ranges.

A manifest is the one record of a complete backup: what was backed up, when, with which tool,
every file with its size and SHA-256, the WAL range a physical backup needs, and a snapshot of
the data (per-table row counts and content checksums) that verify-by-restore compares against.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


class SourceKind(StrEnum):
    POSTGRES_PHYSICAL = "postgres-physical"
    POSTGRES_LOGICAL = "postgres-logical"
    SQLITE = "sqlite"
    DIRECTORY = "directory"


class Compression(StrEnum):
    NONE = "none"
    ZSTD = "zstd"


class PhysicalFormat(StrEnum):
    TAR = "tar"
    PLAIN = "plain"


class SnapshotMode(StrEnum):
    """How much of a database's content a backup records for verify-by-restore."""

    FULL = "full"  # row counts and content checksums (one pass over every row)
    COUNTS = "counts"  # row counts only (cheap)
    NONE = "none"  # nothing: verify restores and starts, but compares no data


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FileEntry(_Frozen):
    """One file of a backup, relative to the backup's directory."""

    path: str
    size: int
    sha256: str


class TableSnapshot(_Frozen):
    """Row count and an order-independent content checksum of one table (or file tree)."""

    name: str
    rows: int
    checksum: str


class WalRange(_Frozen):
    """WAL a physical backup needs: LSNs, timeline and the segment names that hold them."""

    timeline: int
    start_lsn: str
    end_lsn: str
    start_segment: str
    end_segment: str
    segment_size: int = 16 * 1024 * 1024
    system_identifier: str


class Manifest(_Frozen):
    """The record of one complete backup; written last, when every file is in place."""

    version: int = MANIFEST_VERSION
    id: str
    kind: SourceKind
    source: str
    started_at: datetime
    ended_at: datetime
    files: tuple[FileEntry, ...]
    compression: Compression = Compression.NONE
    format: PhysicalFormat | None = None
    wal: WalRange | None = None
    tool_versions: dict[str, str] = Field(default_factory=dict)
    snapshot: tuple[TableSnapshot, ...] = ()
    snapshot_mode: SnapshotMode = SnapshotMode.FULL
    # False when the source committed writes while a physical backup's snapshot was taken:
    # a restore then legitimately differs from the snapshot (verify says so, without failing)
    snapshot_exact: bool = True

    @property
    def size(self) -> int:
        return sum(entry.size for entry in self.files)

    def summary(self) -> dict[str, object]:
        """Short JSON-able view for ``ialr backup list``."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "source": self.source,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat(),
            "size": self.size,
            "files": len(self.files),
            "compression": self.compression.value,
            "wal": None if self.wal is None else [self.wal.start_segment, self.wal.end_segment],
        }

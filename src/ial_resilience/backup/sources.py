"""Taking a backup: one function per source kind, each writing into a staging directory of the
repository and returning what the manifest needs. ``run_backup`` commits only a complete set.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import tarfile
import tempfile
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import zstandard

from ial_resilience.backup import snapshot
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
from ial_resilience.backup.pgtools import (
    connect,
    parse_lsn,
    redact,
    run_tool,
    segment_name,
    tool_version,
    translate,
)
from ial_resilience.backup.repository import LocalRepository, Repository
from ial_resilience.errors import BackupError, InputError
from ial_resilience.postgres import prepare_dir

Step = Callable[[str], None]

_log = logging.getLogger(__name__)


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class BackupRequest:
    """What to back up and how."""

    source: str
    kind: SourceKind
    compression: Compression = Compression.NONE
    format: PhysicalFormat = PhysicalFormat.TAR
    max_rate: str | None = None  # physical: pg_basebackup --max-rate, e.g. "32k", "10M"
    snapshot: SnapshotMode = SnapshotMode.FULL  # databases: what verify can compare


@dataclass
class _Produced:
    wal: WalRange | None = None
    tools: dict[str, str] = field(default_factory=dict)
    snapshot: list[TableSnapshot] = field(default_factory=list)
    snapshot_exact: bool = True
    hashed: dict[str, FileEntry] = field(default_factory=dict)  # files hashed while written


def detect_kind(source: str, kind: str | None) -> SourceKind:
    """The source kind from an explicit ``--kind`` or from what ``source`` looks like."""
    if kind:
        aliases = {"physical": SourceKind.POSTGRES_PHYSICAL, "logical": SourceKind.POSTGRES_LOGICAL,
                   "dir": SourceKind.DIRECTORY}  # fmt: skip
        try:
            return aliases.get(kind) or SourceKind(kind)
        except ValueError:
            choices = "physical, logical, sqlite, directory"
            raise InputError(f"unknown source kind {kind!r}; expected one of {choices}") from None
    if source.startswith(("postgresql://", "postgres://")) or "dbname=" in source:
        return SourceKind.POSTGRES_PHYSICAL
    path = Path(source)
    if path.is_dir():
        return SourceKind.DIRECTORY
    if path.is_file():
        with path.open("rb") as handle:
            if handle.read(16) == b"SQLite format 3\x00":
                return SourceKind.SQLITE
        raise InputError(f"{source} is a file but not a SQLite database",
                         hint="back up its directory instead, or pass --kind")  # fmt: skip
    raise InputError(
        f"source {source!r} is neither a PostgreSQL DSN, a SQLite file nor a directory",
        hint="pass postgresql://user@host:port/db, a path to a .sqlite file, or a directory",
    )


def new_backup_id(kind: SourceKind, now: datetime) -> str:
    return f"{now.strftime('%Y%m%dT%H%M%S')}Z-{kind.value}-{uuid.uuid4().hex[:6]}"


def run_backup(repo: Repository, request: BackupRequest, *, on_step: Step = _quiet) -> Manifest:
    """Take one backup into ``repo``; commit it only when every file is written and hashed.

    A :class:`LocalRepository` receives the files in place (its staging directory); any other
    :class:`Repository` gets them through ``put`` from a local scratch directory, then
    ``commit``.
    """
    started = datetime.now(UTC)
    backup_id = new_backup_id(request.kind, started)
    local = repo if isinstance(repo, LocalRepository) else None
    staging = local.staging_dir(backup_id) if local else Path(tempfile.mkdtemp(prefix="ialr-"))
    try:
        produced = _PRODUCERS[request.kind](request, staging, on_step)
        if local:
            local.check_room(0)
        on_step("hashing files")
        files = hash_files(staging, produced.hashed)
        manifest = Manifest(
            id=backup_id,
            kind=request.kind,
            source=_describe(request),
            started_at=started,
            ended_at=datetime.now(UTC),
            files=tuple(files),
            compression=request.compression,
            format=request.format if request.kind == SourceKind.POSTGRES_PHYSICAL else None,
            wal=produced.wal,
            tool_versions=produced.tools,
            snapshot=tuple(produced.snapshot),
            snapshot_exact=produced.snapshot_exact,
            snapshot_mode=_snapshot_mode(request),
        )
        on_step("committing")
        _commit(repo, manifest, staging)
    except OSError as error:
        _abort(repo, backup_id)
        raise BackupError(
            f"backup {backup_id} could not be written to {repo.url}: {error.strerror or error}",
            hint="check that the repository is writable and has free space; nothing was committed",
        ) from error
    except BaseException:
        _abort(repo, backup_id)
        raise
    finally:
        if local is None:
            shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _snapshot_mode(request: BackupRequest) -> SnapshotMode:
    databases = (SourceKind.POSTGRES_PHYSICAL, SourceKind.POSTGRES_LOGICAL)
    return request.snapshot if request.kind in databases else SnapshotMode.FULL


def _commit(repo: Repository, manifest: Manifest, staging: Path) -> None:
    if not isinstance(repo, LocalRepository):
        for entry in manifest.files:
            repo.put(f"backups/{manifest.id}/{entry.path}", staging / entry.path)
    repo.commit(manifest.id, manifest)


def _abort(repo: Repository, backup_id: str) -> None:
    """Remove what a failed backup wrote. Best effort for remote repositories: the original
    error is what the user must see, and uploaded files stay invisible without a manifest."""
    if isinstance(repo, LocalRepository):
        repo.abort(backup_id)
        return
    abort = getattr(repo, "abort", None)
    if callable(abort):
        try:
            abort(backup_id)
        except Exception:  # never hide the error that made the backup fail
            _log.warning("could not remove the files of failed backup %s", backup_id, exc_info=True)


def _describe(request: BackupRequest) -> str:
    if request.kind in (SourceKind.POSTGRES_PHYSICAL, SourceKind.POSTGRES_LOGICAL):
        return redact(request.source)
    return str(Path(request.source).absolute())


def hash_files(root: Path, known: dict[str, FileEntry] | None = None) -> list[FileEntry]:
    """SHA-256 of every file under ``root``; ``known`` entries (same size) are not re-read."""
    entries = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        size = path.stat().st_size
        entry = (known or {}).get(rel)
        if entry is None or entry.size != size:
            entry = FileEntry(path=rel, size=size, sha256=snapshot.file_sha256(path))
        entries.append(entry)
    return entries


# -- PostgreSQL physical -----------------------------------------------------------------
def _physical(request: BackupRequest, staging: Path, on_step: Step) -> _Produced:
    dsn = request.source
    if request.format == PhysicalFormat.PLAIN and request.compression == Compression.ZSTD:
        raise InputError("zstd compression needs --format tar for a physical backup")
    with connect(dsn, action="connect for a base backup") as conn:
        sysid, segsize = _cluster_identity(conn, dsn)
        xmax_before = _next_xid(conn, dsn)
    prepare_dir(staging)
    fmt = request.format.value[0]
    argv: list[str | Path] = ["pg_basebackup", "-d", dsn, "-D", staging / "data", "-F", fmt,
                              "-X", "stream", "-c", "fast"]  # fmt: skip
    if request.max_rate:
        argv += ["--max-rate", request.max_rate]
    on_step("pg_basebackup, snapshot of the tables")
    # the snapshot reads the tables while pg_basebackup copies files: a second core, not
    # a second pass; it is exact when no transaction committed meanwhile (checked below)
    # base.tar is hashed as pg_basebackup appends to it, on another core too
    follower = snapshot.FileFollower(staging / "data" / "base.tar")
    with ThreadPoolExecutor(2, thread_name_prefix="ialr-backup") as pool:
        tables = pool.submit(snapshot.postgres_cluster, dsn, request.snapshot)
        hashed = pool.submit(follower.run)
        try:
            run_tool(argv, dsn=dsn, action="take a base backup")
        finally:
            follower.finish()
        hashed.result()
    with connect(dsn, action="connect after the base backup") as conn:
        exact = _next_xid(conn, dsn) == xmax_before
    if request.compression == Compression.ZSTD:
        # the wheel's PostgreSQL is built without zstd: compress its tar files here
        on_step("zstd")
        for tar in sorted((staging / "data").glob("*.tar")):
            _compress_file(tar, tar.with_name(tar.name + ".zst"))
    wal = _wal_range(staging / "data" / "backup_manifest", sysid, segsize)
    tools = {"pg_basebackup": tool_version("pg_basebackup")}
    return _Produced(wal=wal, tools=tools, snapshot=tables.result(), snapshot_exact=exact,
                     hashed=follower.entries(staging))  # fmt: skip


def _next_xid(conn: psycopg.Connection, dsn: str) -> str:
    """The next transaction id to be assigned: unchanged means nothing was written."""
    try:
        row = conn.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text").fetchone()
    except psycopg.Error as error:
        raise translate(error, dsn, "read the transaction horizon") from error
    return "" if row is None else str(row[0])


def _cluster_identity(conn: psycopg.Connection, dsn: str) -> tuple[str, int]:
    try:
        row = conn.execute(
            "SELECT system_identifier::text, (SELECT setting::int FROM pg_settings "
            "WHERE name = 'wal_segment_size') FROM pg_control_system()"
        ).fetchone()
    except psycopg.Error as error:
        raise translate(error, dsn, "read the cluster identity") from error
    assert row is not None
    return str(row[0]), int(row[1])


def _wal_range(backup_manifest: Path, sysid: str, segsize: int) -> WalRange:
    try:
        ranges = json.loads(backup_manifest.read_text())["WAL-Ranges"]
    except (OSError, ValueError, KeyError) as error:
        raise BackupError(f"pg_basebackup wrote no readable {backup_manifest}: {error}") from error
    first, last = ranges[0], ranges[-1]
    timeline = int(last["Timeline"])
    start, end = parse_lsn(first["Start-LSN"]), parse_lsn(last["End-LSN"])
    return WalRange(
        timeline=timeline,
        start_lsn=first["Start-LSN"],
        end_lsn=last["End-LSN"],
        start_segment=segment_name(int(first["Timeline"]), start, segsize),
        end_segment=segment_name(timeline, end, segsize),
        segment_size=segsize,
        system_identifier=sysid,
    )


# -- PostgreSQL logical ------------------------------------------------------------------
def _logical(request: BackupRequest, staging: Path, on_step: Step) -> _Produced:
    dsn = request.source
    prepare_dir(staging)
    with connect(dsn, action="connect for a dump", autocommit=False) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        try:
            row = conn.execute("SELECT pg_export_snapshot()").fetchone()
            assert row is not None
            on_step("snapshot of the tables")
            tables = snapshot.postgres_tables(conn, mode=request.snapshot)
        except psycopg.Error as error:
            raise translate(error, dsn, "export a snapshot") from error
        argv = ["pg_dump", "-d", dsn, "-Fc", "--snapshot", row[0], "-f", staging / "dump.pgdump"]
        on_step("pg_dump")
        run_tool([*argv, "-Z", "0"], dsn=dsn, action="dump the database")
        conn.rollback()
    if request.compression == Compression.ZSTD:
        on_step("zstd")
        _compress_file(staging / "dump.pgdump", staging / "dump.pgdump.zst")
    return _Produced(tools={"pg_dump": tool_version("pg_dump")}, snapshot=tables)


# -- SQLite ------------------------------------------------------------------------------
def _sqlite(request: BackupRequest, staging: Path, on_step: Step) -> _Produced:
    source = Path(request.source)
    target = staging / "database.sqlite"
    on_step("sqlite online backup")
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst, pages=1024)
        finally:
            dst.close()
            src.close()
    except sqlite3.Error as error:
        raise BackupError(f"SQLite online backup of {source} failed: {error}") from error
    tables = snapshot.sqlite_database(target)
    if request.compression == Compression.ZSTD:
        _compress_file(target, target.with_name(target.name + ".zst"))
    return _Produced(tools={"sqlite": sqlite3.sqlite_version}, snapshot=tables)


def _compress_file(source: Path, dest: Path) -> None:
    with source.open("rb") as src, dest.open("wb") as out:
        zstandard.ZstdCompressor(level=3).copy_stream(src, out)
    source.unlink()


# -- directories -------------------------------------------------------------------------
def _directory(request: BackupRequest, staging: Path, on_step: Step) -> _Produced:
    root = Path(request.source)
    on_step("snapshot of the files")
    tree = snapshot.directory_tree(root)
    on_step("tar")
    if request.compression == Compression.ZSTD:
        with (
            (staging / "tree.tar.zst").open("wb") as raw,
            zstandard.ZstdCompressor(level=3).stream_writer(raw) as writer,
            tarfile.open(fileobj=writer, mode="w|") as tar,
        ):
            tar.add(root, arcname=".")
    else:
        with tarfile.open(staging / "tree.tar", mode="w") as tar:
            tar.add(root, arcname=".")
    return _Produced(tools={"tar": "python tarfile"}, snapshot=tree)


_PRODUCERS: dict[SourceKind, Callable[[BackupRequest, Path, Step], _Produced]] = {
    SourceKind.POSTGRES_PHYSICAL: _physical,
    SourceKind.POSTGRES_LOGICAL: _logical,
    SourceKind.SQLITE: _sqlite,
    SourceKind.DIRECTORY: _directory,
}

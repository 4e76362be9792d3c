"""Restoring a backup: a new data directory (with point-in-time recovery), a database, a SQLite
file or a directory tree. Each refuses to overwrite live data without ``force``.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

import psycopg
import zstandard
from psycopg import sql

from ial_resilience.backup import wal as walmod
from ial_resilience.backup.models import Manifest, PhysicalFormat, SourceKind
from ial_resilience.backup.pgtools import connect, dsn_with_db, redact, run_tool, translate
from ial_resilience.backup.repository import LocalRepository
from ial_resilience.backup.snapshot import file_sha256
from ial_resilience.errors import BackupError, InputError
from ial_resilience.postgres import PostgresError, PostgresInstance, prepare_dir

Step = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class RestoreResult:
    backup_id: str
    target: str
    recovered_to: str | None = None
    window: tuple[str, str] | None = None
    wal_segments: int = 0


def check_files(repo: LocalRepository, manifest: Manifest) -> list[str]:
    """Lines naming every file whose size or SHA-256 differs from the manifest, or is missing."""
    root = repo.backup_dir(manifest.id)
    problems = []
    for entry in manifest.files:
        path = root / entry.path
        if not path.is_file():
            problems.append(f"{entry.path}: missing")
        elif path.stat().st_size != entry.size:
            problems.append(f"{entry.path}: size {path.stat().st_size}, manifest says {entry.size}")
        elif file_sha256(path) != entry.sha256:
            problems.append(f"{entry.path}: SHA-256 differs from the manifest")
    return problems


def require_intact(repo: LocalRepository, manifest: Manifest) -> None:
    problems = check_files(repo, manifest)
    if problems:
        raise BackupError(
            f"backup {manifest.id} is damaged: " + "; ".join(problems),
            hint="restore another backup (`ialr backup list`) and prune this one",
        )


# -- archives ----------------------------------------------------------------------------
@contextmanager
def _open_stream(path: Path) -> Iterator[IO[bytes]]:
    with path.open("rb") as raw:
        if path.name.endswith(".zst"):
            with zstandard.ZstdDecompressor().stream_reader(raw) as reader:
                yield reader
        else:
            yield raw


def extract_tar(path: Path, dest: Path) -> None:
    """Unpack a (zstd-compressed) tar; GNU tar does plain ones faster than Python can."""
    dest.mkdir(parents=True, exist_ok=True)
    gnu_tar = shutil.which("tar")
    if gnu_tar and path.name.endswith(".tar"):
        done = subprocess.run([gnu_tar, "-xf", str(path), "-C", str(dest), "--no-same-owner"],
                              capture_output=True, text=True, check=False)  # fmt: skip
        if done.returncode != 0:
            raise BackupError(f"cannot unpack {path}: {done.stderr.strip()[-500:]}")
        return
    with _open_stream(path) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        tar.extractall(dest, filter="fully_trusted")


# -- PostgreSQL physical -----------------------------------------------------------------
def refuse_running(data_dir: Path, force: bool) -> None:
    instance = PostgresInstance(data_dir)
    if instance.is_running():
        if not force:
            raise InputError(
                f"a PostgreSQL server (pid {instance.pid}) is running on {data_dir}; "
                "restoring over it would destroy its data",
                hint="stop it first, restore to a new directory, or pass --force",
            )
        instance.stop(mode="immediate")


def _clear(path: Path, force: bool, what: str) -> None:
    if path.exists() and (path.is_file() or any(path.iterdir())):
        if not force:
            raise InputError(f"{what} {path} already exists and is not empty",
                             hint="restore to a new location or pass --force")  # fmt: skip
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def lay_down_physical(repo: LocalRepository, manifest: Manifest, data_dir: Path) -> None:
    """Put the base backup's files into ``data_dir`` (tar extracted or plain copied)."""
    source = repo.backup_dir(manifest.id) / "data"
    if manifest.format == PhysicalFormat.PLAIN:
        shutil.copytree(source, data_dir, symlinks=True, dirs_exist_ok=True)
        (data_dir / "backup_manifest").unlink(missing_ok=True)
    else:
        base = next(source.glob("base.tar*"))
        extract_tar(base, data_dir)
        for wal_tar in source.glob("pg_wal.tar*"):
            extract_tar(wal_tar, data_dir / "pg_wal")
    data_dir.chmod(0o700)


def _recovery_settings(data_dir: Path, plan: walmod.RecoveryPlan | None) -> None:
    settings = {"archive_mode": "'off'"}
    if plan is not None and plan.wal_dir is not None:
        settings["restore_command"] = f'\'cp "{plan.wal_dir}/%f" "%p"\''
        if plan.target is not None:
            settings["recovery_target_time"] = f"'{plan.target.isoformat()}'"
            settings["recovery_target_action"] = "'promote'"
        (data_dir / "recovery.signal").touch()
    with (data_dir / "postgresql.auto.conf").open("a") as conf:
        for key, value in settings.items():
            conf.write(f"{key} = {value}\n")


def wal_stage_dir(data_dir: Path) -> Path:
    """Where a restore stages WAL for ``restore_command``; removable once recovery ended."""
    data_dir = data_dir.absolute()
    return data_dir.parent / f".{data_dir.name}.wal"


def restore_physical(
    repo: LocalRepository,
    manifest: Manifest,
    data_dir: Path,
    *,
    target: datetime | None = None,
    use_wal: bool = True,
    force: bool = False,
    check_files_first: bool = True,
    on_step: Step = _quiet,
) -> RestoreResult:
    """Lay the backup into a new data directory, ready to start; PITR when ``target`` is set.
    ``check_files_first=False`` skips the SHA-256 pass (for a caller that just did it)."""
    data_dir = data_dir.absolute()
    refuse_running(data_dir, force)
    if check_files_first:
        on_step("checking files")
        require_intact(repo, manifest)
    plan = None
    if use_wal:
        on_step("checking WAL")
        stage = wal_stage_dir(data_dir)
        plan = walmod.plan_recovery(manifest, repo.root / "wal", stage, target)
    elif target is not None:
        raise InputError("a target time needs WAL; do not combine --to with --no-wal")
    _clear(data_dir, force, "data directory")
    on_step("laying down the base backup")
    lay_down_physical(repo, manifest, data_dir)
    _recovery_settings(data_dir, plan)
    prepare_dir(data_dir)
    return RestoreResult(
        backup_id=manifest.id,
        target=str(data_dir),
        recovered_to=None if plan is None or plan.target is None else plan.target.isoformat(),
        window=None if plan is None else (plan.earliest.isoformat(), plan.latest.isoformat()),
        wal_segments=0 if plan is None else plan.segments,
    )


RECOVERY_SETTINGS = ("restore_command", "recovery_target_time", "recovery_target_action")


def start_restored(data_dir: Path, *, port: int = 0, timeout: float = 600) -> PostgresInstance:
    """Start a restored data directory and wait until recovery has finished (promoted).

    Once promoted, the restore's recovery settings are removed from ``postgresql.auto.conf``:
    left there, every later base backup of this server would carry them, and a full restore of
    such a backup would silently stop at this restore's old target time."""
    instance = PostgresInstance(data_dir, port=port)
    try:
        instance.start(timeout=timeout)
    except PostgresError as error:
        raise BackupError(f"the restored server did not start: {error}\n"
                          f"{instance.last_log_lines()}") from error  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(instance.dsn(), connect_timeout=2, autocommit=True) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                if row is not None and not row[0]:
                    for setting in RECOVERY_SETTINGS:
                        conn.execute(f"ALTER SYSTEM RESET {setting}")
                    return instance
        except psycopg.OperationalError:
            if not instance.is_running():
                break
        time.sleep(0.05)
    logs = instance.last_log_lines()
    instance.stop(mode="immediate")
    raise BackupError(f"recovery of {data_dir} did not finish; server log:\n{logs}")


# -- PostgreSQL logical ------------------------------------------------------------------
def restore_logical(
    repo: LocalRepository, manifest: Manifest, dsn: str, *, force: bool = False,
    check_files_first: bool = True, on_step: Step = _quiet,
) -> RestoreResult:  # fmt: skip
    """Restore a dump into the database named by ``dsn`` (created; replaced only with force)."""
    if check_files_first:
        on_step("checking files")
        require_intact(repo, manifest)
    _prepare_database(dsn, force)
    on_step("pg_restore")
    with _plain_dump(repo.backup_dir(manifest.id)) as dump:
        run_tool(["pg_restore", "-d", dsn, "--no-owner", "--exit-on-error", dump], dsn=dsn,
                 action="restore the dump")  # fmt: skip
    return RestoreResult(backup_id=manifest.id, target=redact(dsn))


@contextmanager
def _plain_dump(root: Path) -> Iterator[Path]:
    """The dump file as pg_restore can read it (decompressed into a scratch file if zstd)."""
    packed = root / "dump.pgdump.zst"
    if not packed.exists():
        yield root / "dump.pgdump"
        return
    scratch = Path(tempfile.mkdtemp(prefix="ialr-dump-"))
    try:
        plain = scratch / "dump.pgdump"
        with packed.open("rb") as src, plain.open("wb") as out:
            zstandard.ZstdDecompressor().copy_stream(src, out)
        prepare_dir(scratch)
        yield plain
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _prepare_database(dsn: str, force: bool) -> None:
    name = str(psycopg.conninfo.conninfo_to_dict(dsn).get("dbname") or "")
    if not name:
        raise InputError(f"{redact(dsn)} names no database to restore into")
    admin = dsn_with_db(dsn, "postgres" if name != "postgres" else "template1")
    with connect(admin, action="prepare the target database") as conn:
        try:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  (name,)).fetchone()  # fmt: skip
            if exists and not force:
                raise InputError(
                    f"database {name!r} already exists on {redact(dsn)}; restoring over a "
                    "live database would destroy its data",
                    hint="restore into a new database name, or pass --force to replace it",
                )
            ident = sql.Identifier(name)
            if exists:
                conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(ident))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))
        except psycopg.Error as error:
            raise translate(error, admin, "prepare the target database") from error


# -- SQLite and directories ---------------------------------------------------------------
def restore_sqlite(
    repo: LocalRepository,
    manifest: Manifest,
    target: Path,
    *,
    force: bool = False,
    check_files_first: bool = True,
) -> RestoreResult:
    if check_files_first:
        require_intact(repo, manifest)
    _clear(target, force, "file")
    root = repo.backup_dir(manifest.id)
    plain, packed = root / "database.sqlite", root / "database.sqlite.zst"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.restoring")
    if packed.exists():
        with packed.open("rb") as src, tmp.open("wb") as out:
            zstandard.ZstdDecompressor().copy_stream(src, out)
    else:
        shutil.copyfile(plain, tmp)
    conn = sqlite3.connect(tmp)
    try:
        ok = conn.execute("PRAGMA integrity_check").fetchone()
    finally:
        conn.close()
    if ok != ("ok",):
        tmp.unlink()
        raise BackupError(f"restored SQLite file fails its integrity check: {ok}")
    tmp.rename(target)
    return RestoreResult(backup_id=manifest.id, target=str(target))


def restore_directory(
    repo: LocalRepository,
    manifest: Manifest,
    target: Path,
    *,
    force: bool = False,
    check_files_first: bool = True,
) -> RestoreResult:
    if check_files_first:
        require_intact(repo, manifest)
    _clear(target, force, "directory")
    archive = next(repo.backup_dir(manifest.id).glob("tree.tar*"))
    extract_tar(archive, target)
    return RestoreResult(backup_id=manifest.id, target=str(target))


def restore(
    repo: LocalRepository,
    manifest: Manifest,
    target: str,
    *,
    to: datetime | None = None,
    force: bool = False,
    on_step: Step = _quiet,
) -> RestoreResult:
    """Restore any kind of backup to ``target`` (a path, or a DSN for a logical backup)."""
    if to is not None and manifest.kind != SourceKind.POSTGRES_PHYSICAL:
        raise InputError(f"--to needs a physical PostgreSQL backup; {manifest.id} is "
                         f"{manifest.kind.value}")  # fmt: skip
    if manifest.kind == SourceKind.POSTGRES_PHYSICAL:
        return restore_physical(repo, manifest, Path(target), target=to, force=force,
                                on_step=on_step)  # fmt: skip
    if manifest.kind == SourceKind.POSTGRES_LOGICAL:
        return restore_logical(repo, manifest, target, force=force, on_step=on_step)
    if manifest.kind == SourceKind.SQLITE:
        return restore_sqlite(repo, manifest, Path(target), force=force)
    return restore_directory(repo, manifest, Path(target), force=force)

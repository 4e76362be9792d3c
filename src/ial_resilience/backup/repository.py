"""Where backups live: a small storage protocol and its local-directory implementation.

The protocol is five operations on keys (``backups/<id>/<file>``, ``wal/<system>/<segment>``):
``put``, ``get``, ``list``, ``delete`` and ``commit``. A backup becomes visible only when
``commit`` writes its manifest: before that its files are invisible to ``list_backups`` (the
local backend keeps them in ``.staging/<id>/`` and renames the whole directory in one step; an
object-store backend writes the manifest object last). An interrupted backup therefore never
appears as complete.

The local backend also hands out a real directory (``staging_dir``) so that tools such as
``pg_basebackup`` write their files in place instead of through a second copy.

:class:`BackupStore` adds what the CLI needs on top (list, find and remove whole backups); the
local directory and ``ial_resilience.aws.s3_repository.S3Repository`` implement it. Restore
and verify work on local files: :func:`materialize` mirrors what they need from any backend.
"""

from __future__ import annotations

import builtins
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol, runtime_checkable

from pydantic import ValidationError

from ial_resilience.backup.models import MANIFEST_NAME, Manifest
from ial_resilience.errors import BackupError, InputError

BACKUPS = "backups"
WAL = "wal"
STAGING = ".staging"


class RepositoryFull(BackupError):
    """The repository refused more bytes (its size limit or the file system is full)."""


@runtime_checkable
class Repository(Protocol):
    """Storage for backups; implement this to add a backend (e.g. S3)."""

    @property
    def url(self) -> str: ...

    def put(self, key: str, source: Path) -> None:
        """Store the file ``source`` under ``key`` (a backup's files stay hidden until commit)."""

    def get(self, key: str, dest: Path) -> None:
        """Copy the object ``key`` to the local file ``dest``."""

    def list(self, prefix: str) -> list[str]:
        """Keys of committed objects that start with ``prefix``, sorted."""

    def delete(self, key: str) -> None:
        """Remove one object (missing is fine)."""

    def commit(self, backup_id: str, manifest: Manifest) -> None:
        """Make the backup visible, atomically, with its manifest."""


@runtime_checkable
class BackupStore(Repository, Protocol):
    """A repository that also lists, finds and removes whole backups (what the CLI uses)."""

    def manifests(self) -> builtins.list[Manifest]:
        """Every committed backup, oldest first."""

    def manifest(self, backup_id: str) -> Manifest:
        """The manifest of ``backup_id`` (or ``latest``); InputError when there is none."""

    def delete_backup(self, backup_id: str) -> None:
        """Remove a committed backup so that it is no longer listed first, then its files."""


def find_manifest(manifests: builtins.list[Manifest], backup_id: str, where: str) -> Manifest:
    """``backup_id`` (or ``latest``) among ``manifests`` (oldest first); InputError naming the
    newest ones when it is not there."""
    if backup_id == "latest" and manifests:
        return manifests[-1]
    for manifest in manifests:
        if manifest.id == backup_id:
            return manifest
    known = ", ".join(m.id for m in manifests[-5:]) or "none"
    raise InputError(
        f"no complete backup {backup_id!r} in {where} (latest: {known})",
        hint="run `ialr backup list --repo …` to see the backups",
    )


def _backup_key_parts(key: str) -> tuple[str, str] | None:
    parts = key.split("/", 2)
    if len(parts) == 3 and parts[0] == BACKUPS:
        return parts[1], parts[2]
    return None


class LocalRepository:
    """A repository in a local directory.

    Layout: ``backups/<id>/`` (committed: files + ``manifest.json``), ``.staging/<id>/``
    (in progress), ``wal/<system-identifier>/`` (archived WAL segments).
    ``max_bytes`` caps the repository's size, the way a full disk would.
    """

    def __init__(self, root: Path, *, max_bytes: int | None = None) -> None:
        self.root = Path(root).absolute()
        self.max_bytes = max_bytes

    @property
    def url(self) -> str:
        return f"file://{self.root}"

    # -- protocol ---------------------------------------------------------------------
    def put(self, key: str, source: Path) -> None:
        dest = self._physical(key)
        self.check_room(source.stat().st_size)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp")
        try:
            shutil.copyfile(source, tmp)
            os.replace(tmp, dest)
        except OSError as error:
            tmp.unlink(missing_ok=True)
            raise self._write_error(key, error) from error

    def get(self, key: str, dest: Path) -> None:
        src = self._physical(key, committed=True)
        if not src.exists():
            raise BackupError(f"{self.url}: no object {key}", hint="run `ialr backup list`")
        shutil.copyfile(src, dest)

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        for top in (BACKUPS, WAL):
            base = self.root / top
            if not base.is_dir():
                continue
            for dirpath, _dirs, files in os.walk(base):
                for name in files:
                    rel = Path(dirpath, name).relative_to(self.root).as_posix()
                    if rel.startswith(prefix) and not name.startswith("."):
                        keys.append(rel)
        return sorted(keys)

    def delete(self, key: str) -> None:
        path = self._physical(key, committed=True)
        path.unlink(missing_ok=True)
        parts = _backup_key_parts(key)
        if parts is not None and path.parent.is_dir() and not any(path.parent.iterdir()):
            path.parent.rmdir()

    def commit(self, backup_id: str, manifest: Manifest) -> None:
        staging = self.staging_dir(backup_id)
        final = self.root / BACKUPS / backup_id
        text = manifest.model_dump_json(indent=2)
        try:
            self.check_room(len(text))
            (staging / MANIFEST_NAME).write_text(text)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.rename(staging, final)
        except OSError as error:
            raise self._write_error(f"{BACKUPS}/{backup_id}", error) from error

    # -- local extras -----------------------------------------------------------------
    def staging_dir(self, backup_id: str) -> Path:
        """A directory where a backup in progress writes its files (invisible until commit)."""
        path = self.root / STAGING / backup_id
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise self._write_error(f"{STAGING}/{backup_id}", error) from error
        return path

    def abort(self, backup_id: str) -> None:
        shutil.rmtree(self.root / STAGING / backup_id, ignore_errors=True)

    def backup_dir(self, backup_id: str) -> Path:
        return self.root / BACKUPS / backup_id

    def wal_dir(self, system_identifier: str) -> Path:
        return self.root / WAL / system_identifier

    def used_bytes(self) -> int:
        total = 0
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                try:
                    total += os.lstat(os.path.join(dirpath, name)).st_size
                except OSError:
                    continue
        return total

    def check_room(self, incoming: int) -> None:
        """Raise :class:`RepositoryFull` when ``incoming`` more bytes would pass ``max_bytes``."""
        if self.max_bytes is None:
            return
        used = self.used_bytes()
        if used + incoming > self.max_bytes:
            raise RepositoryFull(
                f"repository {self.root} is full: {used + incoming} bytes would pass its limit "
                f"of {self.max_bytes}",
                hint="prune old backups (`ialr backup prune`) or raise the limit",
            )

    def manifests(self) -> builtins.list[Manifest]:
        """Every committed backup, oldest first. Staging directories are never listed."""
        base = self.root / BACKUPS
        found: builtins.list[Manifest] = []
        if not base.is_dir():
            return found
        for entry in base.iterdir():
            path = entry / MANIFEST_NAME
            if path.is_file():
                found.append(read_manifest(path))
        return sorted(found, key=lambda m: (m.started_at, m.id))

    def manifest(self, backup_id: str) -> Manifest:
        """The manifest of ``backup_id`` (or ``latest``); InputError when there is none."""
        return find_manifest(self.manifests(), backup_id, str(self.root))

    def delete_backup(self, backup_id: str) -> None:
        (self.backup_dir(backup_id) / MANIFEST_NAME).unlink(missing_ok=True)  # unlisted first
        shutil.rmtree(self.backup_dir(backup_id), ignore_errors=True)

    # -- helpers ----------------------------------------------------------------------
    def _physical(self, key: str, *, committed: bool = False) -> Path:
        if ".." in key.split("/") or key.startswith("/"):
            raise InputError(f"invalid repository key {key!r}")
        parts = _backup_key_parts(key)
        if parts is not None and not committed:
            return self.root / STAGING / parts[0] / parts[1]
        return self.root / key

    def _write_error(self, key: str, error: OSError) -> BackupError:
        return BackupError(
            f"cannot write {key} in repository {self.root}: {error.strerror or error}",
            hint="check that the repository is writable and has free space; "
            "the incomplete backup was not committed",
        )


def read_manifest(path: Path) -> Manifest:
    try:
        return Manifest.model_validate_json(path.read_text())
    except (OSError, ValidationError) as error:
        raise BackupError(
            f"unreadable manifest {path}: {error}",
            hint="the backup is damaged; run `ialr backup verify` on the others and prune it",
        ) from error


def materialize(
    repo: Repository,
    dest: Path,
    backup_id: str | None = None,
    *,
    wal_systems: Iterable[str] | None = None,
) -> LocalRepository:
    """A local repository holding ``repo``'s committed objects, for restore and verify, which
    work on local files: one backup's files (``backup_id``) or every backup's, and the WAL of
    ``wal_systems`` (system identifiers; ``None``: all WAL, empty: none). A local repository is
    returned as is."""
    if isinstance(repo, LocalRepository):
        return repo
    prefixes = [f"{BACKUPS}/{backup_id}/" if backup_id else f"{BACKUPS}/"]
    if wal_systems is None:
        prefixes.append(f"{WAL}/")
    else:
        prefixes += [f"{WAL}/{system}/" for system in wal_systems]
    for prefix in prefixes:
        for key in repo.list(prefix):
            target = dest / key
            target.parent.mkdir(parents=True, exist_ok=True)
            repo.get(key, target)
    return LocalRepository(dest)

"""``ialr backup verify``: a backup proves itself by checksums, ``pg_verifybackup`` and a real
restore into a scratch place whose data is compared with the snapshot taken at backup time.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from ial_resilience.backup import restore as restoring
from ial_resilience.backup import snapshot
from ial_resilience.backup.models import (
    Compression,
    Manifest,
    PhysicalFormat,
    SnapshotMode,
    SourceKind,
    TableSnapshot,
)
from ial_resilience.backup.pgtools import run_unchecked
from ial_resilience.backup.repository import LocalRepository
from ial_resilience.backup.table_checksum import form_of
from ial_resilience.errors import IalrError
from ial_resilience.postgres import PostgresInstance, prepare_dir

Step = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


class CheckStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Check:
    name: str
    status: CheckStatus
    detail: str
    seconds: float


@dataclass(frozen=True)
class VerifyReport:
    backup_id: str
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(c.status != CheckStatus.FAILED for c in self.checks)

    def as_json(self) -> dict[str, object]:
        return {
            "backup": self.backup_id,
            "passed": self.passed,
            "checks": [
                {
                    "name": c.name,
                    "status": c.status.value,
                    "detail": c.detail,
                    "seconds": round(c.seconds, 3),
                }
                for c in self.checks
            ],
        }


def _timed(name: str, action: Callable[[], list[str]]) -> Check:
    started = time.monotonic()
    try:
        problems = action()
    except IalrError as error:
        problems = [error.message]
    status = CheckStatus.FAILED if problems else CheckStatus.PASSED
    detail = "; ".join(problems) if problems else "ok"
    return Check(name, status, detail, time.monotonic() - started)


def verify(
    repo: LocalRepository, manifest: Manifest, *, by_restore: bool = True, on_step: Step = _quiet
) -> VerifyReport:
    """Checksums first; then pg_verifybackup and the restore side by side (two cores, not
    two passes). A failed check does not stop the others; damaged files skip the restore."""
    on_step("checksums")
    checks = [_timed("checksums", lambda: restoring.check_files(repo, manifest))]
    physical = manifest.kind == SourceKind.POSTGRES_PHYSICAL
    with ThreadPoolExecutor(1, thread_name_prefix="ialr-verifybackup") as pool:
        structure = (
            pool.submit(_timed, "pg_verifybackup", lambda: _pg_verifybackup(repo, manifest))
            if physical
            else None
        )
        if not by_restore:
            restored = Check("restore", CheckStatus.SKIPPED, "--no-restore", 0.0)
        elif checks[0].status == CheckStatus.FAILED:
            restored = Check("restore", CheckStatus.SKIPPED, "files are damaged", 0.0)
        else:
            on_step("restore into a scratch place" + (", pg_verifybackup" if physical else ""))
            restored = _restore_check(repo, manifest)
        if structure is not None:
            checks.append(structure.result())
    checks.append(restored)
    return VerifyReport(manifest.id, tuple(checks))


def _restore_check(repo: LocalRepository, manifest: Manifest) -> Check:
    """Restore into a scratch place (files were just checked) and compare with the snapshot."""
    started = time.monotonic()
    try:
        differences = _restore_and_compare(repo, manifest)
    except IalrError as error:
        return Check("restore", CheckStatus.FAILED, error.message, time.monotonic() - started)
    seconds = time.monotonic() - started
    if manifest.snapshot_mode == SnapshotMode.NONE:
        detail = "restored and started; no data compared (backup taken with --snapshot none)"
        return Check("restore", CheckStatus.PASSED, detail, seconds)
    if not differences:
        detail = f"restored; {len(manifest.snapshot)} tables/files match the snapshot"
        return Check("restore", CheckStatus.PASSED, detail, seconds)
    if not manifest.snapshot_exact:
        detail = ("restored and started; the source was written during the backup, so these "
                  "differences are expected: " + "; ".join(differences[:5]))  # fmt: skip
        return Check("restore", CheckStatus.INCONCLUSIVE, detail, seconds)
    return Check("restore", CheckStatus.FAILED, "; ".join(differences), seconds)


def _pg_verifybackup(repo: LocalRepository, manifest: Manifest) -> list[str]:
    data = repo.backup_dir(manifest.id) / "data"
    if manifest.compression == Compression.ZSTD:
        # this PostgreSQL build cannot read zstd: check the extracted files against the manifest
        scratch = Path(tempfile.mkdtemp(prefix="ialr-verifybackup-"))
        try:
            restoring.lay_down_physical(repo, manifest, scratch / "data")
            prepare_dir(scratch)
            return _run_verifybackup(
                ["pg_verifybackup", "-m", data / "backup_manifest", scratch / "data"]
            )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    argv: list[str | Path] = ["pg_verifybackup", data]
    if manifest.format == PhysicalFormat.TAR:
        argv.insert(1, "--no-parse-wal")
    return _run_verifybackup(argv)


def _run_verifybackup(argv: list[str | Path]) -> list[str]:
    result = run_unchecked(argv, timeout=3600)
    if result.returncode != 0:
        return [line for line in (result.stderr or result.stdout).strip().splitlines()[:5]]
    return []


def _restore_and_compare(repo: LocalRepository, manifest: Manifest) -> list[str]:
    scratch = Path(tempfile.mkdtemp(prefix="ialr-verify-"))
    try:
        actual = _scratch_restore(repo, manifest, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return snapshot.differences(manifest.snapshot, actual)


def _scratch_restore(
    repo: LocalRepository, manifest: Manifest, scratch: Path
) -> list[TableSnapshot]:
    if manifest.kind == SourceKind.SQLITE:
        target = scratch / "restored.sqlite"
        restoring.restore_sqlite(repo, manifest, target, check_files_first=False)
        return snapshot.sqlite_database(target)
    if manifest.kind == SourceKind.DIRECTORY:
        restoring.restore_directory(repo, manifest, scratch / "tree", check_files_first=False)
        return snapshot.directory_tree(scratch / "tree")
    if manifest.kind == SourceKind.POSTGRES_LOGICAL:
        return _scratch_logical(repo, manifest, scratch)
    return _scratch_physical(repo, manifest, scratch)


def _scratch_physical(
    repo: LocalRepository, manifest: Manifest, scratch: Path
) -> list[TableSnapshot]:
    data = scratch / "data"
    restoring.restore_physical(repo, manifest, data, use_wal=False, check_files_first=False)
    instance = restoring.start_restored(data)
    try:
        return snapshot.postgres_cluster(
            instance.dsn(), manifest.snapshot_mode, form_of(manifest.snapshot)
        )
    finally:
        instance.remove()


def _scratch_logical(
    repo: LocalRepository, manifest: Manifest, scratch: Path
) -> list[TableSnapshot]:
    prepare_dir(scratch)
    instance = PostgresInstance(scratch / "data")
    try:
        instance.init().start()
        dsn = instance.dsn("restored")
        restoring.restore_logical(repo, manifest, dsn, check_files_first=False)
        return snapshot.postgres_database(dsn, manifest.snapshot_mode, form_of(manifest.snapshot))
    finally:
        instance.remove()

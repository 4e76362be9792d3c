"""An interrupted backup is never listed as complete: killed midway, repository full (a real
size-capped tmpfs), repository read-only (a real read-only mount), made unwritable midway."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ial_resilience.backup.models import SourceKind
from ial_resilience.backup.repository import STAGING, LocalRepository
from ial_resilience.backup.sources import BackupRequest, run_backup
from ial_resilience.errors import BackupError
from ial_resilience.postgres import PostgresInstance

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresInstance]:
    base = Path(tempfile.mkdtemp(prefix="ialr-interrupt-"))
    instance = PostgresInstance(base / "data").init().start()
    try:
        yield instance
    finally:
        instance.remove()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def work() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="ialr-interrupt-work-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                            capture_output=True, text=True)  # fmt: skip
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN): {result.stderr}")


@pytest.fixture
def tmpfs(work: Path) -> Iterator[Path]:
    mount = work / "mnt"
    _mount_tmpfs(mount, "6m")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _staged_bytes(repo: Path) -> int:
    staging = repo / STAGING
    if not staging.is_dir():
        return 0
    return sum(p.stat().st_size for p in staging.rglob("*") if p.is_file())


def _cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ial_resilience.cli.main", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip


def _wait_for_bytes(repo: Path, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    """Until the backup has written its first bytes into the staging area."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _staged_bytes(repo) > 0:
            return
        if proc.poll() is not None:
            raise AssertionError(f"the backup ended early: {proc.communicate()[1]}")
        time.sleep(0.02)
    raise AssertionError("timed out waiting for the backup to write its first bytes")


def test_a_backup_killed_midway_is_never_listed(server: PostgresInstance, work: Path) -> None:
    repo = work / "repo"
    # throttled to 32 kB/s, the base backup takes minutes: it is surely killed midway
    proc = _cli("backup", "run", server.dsn(), "--repo", str(repo), "--max-rate", "32k")
    try:
        _wait_for_bytes(repo, proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert _staged_bytes(repo) > 0  # half a backup is there …
    assert LocalRepository(repo).manifests() == []  # … and never listed
    listing = _cli("backup", "list", "--repo", str(repo), "--json")
    out, _ = listing.communicate(timeout=60)
    assert listing.returncode == 0 and out.strip() == "[]"
    # the next backup is complete and is the only one listed
    manifest = run_backup(
        LocalRepository(repo), BackupRequest(server.dsn(), SourceKind.POSTGRES_PHYSICAL)
    )
    assert [m.id for m in LocalRepository(repo).manifests()] == [manifest.id]


def test_a_full_repository_lists_no_backup(server: PostgresInstance, tmpfs: Path) -> None:
    repo = LocalRepository(tmpfs / "repo")
    with pytest.raises(BackupError, match="No space left on device"):
        run_backup(repo, BackupRequest(server.dsn(), SourceKind.POSTGRES_PHYSICAL))
    assert repo.manifests() == []


def test_a_read_only_repository_is_refused(server: PostgresInstance, work: Path) -> None:
    mount = work / "ro"
    mount.mkdir()
    _mount_tmpfs(mount, "1m")
    try:
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        proc = _cli("backup", "run", server.dsn(), "--repo", str(mount / "repo"))
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 5, err
        assert "Read-only file system" in err and "not committed" in err
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_repository_made_unwritable_midway_lists_no_backup(
    server: PostgresInstance, work: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: the backup tool must run as another user than the test")
    repo = work / "repo"
    # plain format: pg_basebackup creates file after file, throttled to 256 kB/s
    proc = _cli("backup", "run", server.dsn(), "--repo", str(repo), "--format", "plain",
                "--max-rate", "256k")  # fmt: skip
    try:
        _wait_for_bytes(repo, proc)
        for directory in [p for p in (repo / STAGING).rglob("*") if p.is_dir()]:
            directory.chmod(0o555)  # read-only for the unprivileged tool writing there
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert proc.returncode == 5, err
    assert "Permission denied" in err
    assert LocalRepository(repo).manifests() == []

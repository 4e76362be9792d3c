"""Repository, directory and SQLite backups: round trips, staged commit, damage detection."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from ial_resilience.backup import snapshot
from ial_resilience.backup.models import Compression, Manifest, SourceKind
from ial_resilience.backup.repository import (
    LocalRepository,
    Repository,
    RepositoryFull,
    materialize,
)
from ial_resilience.backup.restore import restore
from ial_resilience.backup.sources import BackupRequest, detect_kind, run_backup
from ial_resilience.backup.verify import CheckStatus, verify
from ial_resilience.errors import BackupError, InputError


def make_tree(root: Path) -> Path:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_text("alpha\n")
    (root / "sub" / "b.bin").write_bytes(os.urandom(200_000))
    (root / "sub" / "deeper" / "c.json").write_text('{"k": 1}')
    return root


def make_sqlite(path: Path, rows: int = 500) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, qty REAL)")
    conn.executemany("INSERT INTO items (name, qty) VALUES (?, ?)",
                     [(f"item-{i}", i / 3) for i in range(rows)])  # fmt: skip
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("INSERT INTO notes VALUES ('x')")
    conn.commit()
    conn.close()
    return path


def test_local_repository_implements_the_protocol(tmp_path: Path) -> None:
    assert isinstance(LocalRepository(tmp_path), Repository)


@pytest.mark.parametrize("compression", [Compression.NONE, Compression.ZSTD])
def test_directory_round_trip_is_identical(tmp_path: Path, compression: Compression) -> None:
    source = make_tree(tmp_path / "src")
    repo = LocalRepository(tmp_path / "repo")
    manifest = run_backup(repo, BackupRequest(str(source), SourceKind.DIRECTORY, compression))
    assert [m.id for m in repo.manifests()] == [manifest.id]
    assert manifest.files[0].path == ("tree.tar.zst" if compression.value == "zstd" else "tree.tar")
    restore(repo, manifest, str(tmp_path / "out"))
    assert snapshot.directory_tree(tmp_path / "out") == snapshot.directory_tree(source)
    assert verify(repo, manifest).passed


@pytest.mark.parametrize("compression", [Compression.NONE, Compression.ZSTD])
def test_sqlite_round_trip_is_identical(tmp_path: Path, compression: Compression) -> None:
    source = make_sqlite(tmp_path / "app.sqlite")
    writer = sqlite3.connect(source)  # an open connection does not stop the online backup
    repo = LocalRepository(tmp_path / "repo")
    manifest = run_backup(repo, BackupRequest(str(source), SourceKind.SQLITE, compression))
    writer.close()
    assert {t.name: t.rows for t in manifest.snapshot} == {"items": 500, "notes": 1}
    restore(repo, manifest, str(tmp_path / "restored.sqlite"))
    assert snapshot.sqlite_database(tmp_path / "restored.sqlite") == snapshot.sqlite_database(
        source
    )
    report = verify(repo, manifest)
    assert report.passed, report


def test_a_flipped_byte_fails_verify_and_names_the_file(tmp_path: Path) -> None:
    repo = LocalRepository(tmp_path / "repo")
    manifest = run_backup(
        repo, BackupRequest(str(make_tree(tmp_path / "src")), SourceKind.DIRECTORY)
    )
    damaged = repo.backup_dir(manifest.id) / "tree.tar"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0x01
    damaged.write_bytes(bytes(data))
    report = verify(repo, manifest)
    assert not report.passed
    checks = {c.name: c for c in report.checks}
    assert checks["checksums"].status == CheckStatus.FAILED
    assert "tree.tar: SHA-256 differs" in checks["checksums"].detail
    assert checks["restore"].status == CheckStatus.SKIPPED
    with pytest.raises(BackupError, match=r"tree\.tar"):
        restore(repo, manifest, str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_uncommitted_backups_are_never_listed(tmp_path: Path) -> None:
    repo = LocalRepository(tmp_path / "repo")
    staging = repo.staging_dir("20260101T000000Z-directory-abcdef")
    (staging / "tree.tar").write_bytes(b"half a tar")
    assert repo.manifests() == []
    assert repo.list("backups/") == []
    with pytest.raises(InputError, match="no complete backup 'latest'"):
        repo.manifest("latest")


def test_a_full_repository_commits_nothing(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "src")
    repo = LocalRepository(tmp_path / "repo", max_bytes=50_000)  # the tree is ~200 kB
    with pytest.raises(RepositoryFull, match="is full"):
        run_backup(repo, BackupRequest(str(source), SourceKind.DIRECTORY))
    assert repo.manifests() == []
    assert not any((tmp_path / "repo" / ".staging").iterdir())


def test_put_get_list_delete(tmp_path: Path) -> None:
    repo = LocalRepository(tmp_path / "repo")
    payload = tmp_path / "p"
    payload.write_bytes(b"segment")
    repo.put("wal/42/000000010000000000000001", payload)
    repo.put("backups/b1/file", payload)  # staged: invisible until commit
    assert repo.list("") == ["wal/42/000000010000000000000001"]
    repo.get("wal/42/000000010000000000000001", tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == b"segment"
    repo.delete("wal/42/000000010000000000000001")
    assert repo.list("wal/") == []
    with pytest.raises(InputError, match="invalid repository key"):
        repo.put("../escape", payload)


def test_source_kind_is_detected_or_refused(tmp_path: Path) -> None:
    assert detect_kind("postgresql://u@127.0.0.1:5432/db", None) == SourceKind.POSTGRES_PHYSICAL
    assert detect_kind("postgresql://u@h/db", "logical") == SourceKind.POSTGRES_LOGICAL
    assert detect_kind(str(make_sqlite(tmp_path / "x.db")), None) == SourceKind.SQLITE
    assert detect_kind(str(tmp_path), None) == SourceKind.DIRECTORY
    (tmp_path / "plain.txt").write_text("no")
    with pytest.raises(InputError, match="not a SQLite database"):
        detect_kind(str(tmp_path / "plain.txt"), None)
    with pytest.raises(InputError, match="neither a PostgreSQL DSN"):
        detect_kind(str(tmp_path / "missing"), None)
    with pytest.raises(InputError, match="unknown source kind"):
        detect_kind("x", "tape")


def test_restore_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    source = make_sqlite(tmp_path / "app.sqlite", rows=3)
    repo = LocalRepository(tmp_path / "repo")
    manifest = run_backup(repo, BackupRequest(str(source), SourceKind.SQLITE))
    with pytest.raises(InputError, match="already exists"):
        restore(repo, manifest, str(source))
    restore(repo, manifest, str(source), force=True)
    assert snapshot.sqlite_database(source) == list(manifest.snapshot)


class MemoryRepository:
    """A second backend, in memory: proves the Repository protocol is enough for a backup."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.commits: list[str] = []

    @property
    def url(self) -> str:
        return "memory://"

    def put(self, key: str, source: Path) -> None:
        self.objects[key] = source.read_bytes()

    def get(self, key: str, dest: Path) -> None:
        dest.write_bytes(self.objects[key])

    def list(self, prefix: str) -> list[str]:
        # committed objects only: a backup's files count once its manifest exists
        def visible(key: str) -> bool:
            parts = key.split("/")
            return parts[0] != "backups" or f"backups/{parts[1]}/manifest.json" in self.objects

        return sorted(k for k in self.objects if k.startswith(prefix) and visible(k))

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def commit(self, backup_id: str, manifest: Manifest) -> None:
        self.commits.append(backup_id)
        self.objects[f"backups/{backup_id}/manifest.json"] = manifest.model_dump_json().encode()


def test_another_backend_through_the_protocol_round_trips(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "src")
    memory = MemoryRepository()
    assert isinstance(memory, Repository)
    manifest = run_backup(memory, BackupRequest(str(source), SourceKind.DIRECTORY))
    assert memory.commits == [manifest.id]
    assert memory.list("backups/") == [f"backups/{manifest.id}/manifest.json",
                                       f"backups/{manifest.id}/tree.tar"]  # fmt: skip
    mirror = materialize(memory, tmp_path / "mirror", manifest.id)
    assert [m.id for m in mirror.manifests()] == [manifest.id]
    restore(mirror, mirror.manifest(manifest.id), str(tmp_path / "out"))
    assert snapshot.directory_tree(tmp_path / "out") == snapshot.directory_tree(source)


def test_a_failed_backup_is_never_committed_to_another_backend(tmp_path: Path) -> None:
    memory = MemoryRepository()
    with pytest.raises(BackupError, match="unable to open database file"):
        run_backup(memory, BackupRequest(str(tmp_path / "missing.sqlite"), SourceKind.SQLITE))
    assert memory.commits == [] and memory.list("") == []


def test_materialize_mirrors_one_backup_and_only_the_wal_asked_for(tmp_path: Path) -> None:
    memory = MemoryRepository()
    first = run_backup(memory, BackupRequest(str(make_tree(tmp_path / "a")), SourceKind.DIRECTORY))
    second = run_backup(memory, BackupRequest(str(make_tree(tmp_path / "b")), SourceKind.DIRECTORY))
    memory.objects |= {"wal/111/000000010000000000000001": b"a", "wal/222/0000000100": b"b"}

    def mirrored(name: str, wal_systems: list[str] | None = None) -> list[str]:
        root = materialize(memory, tmp_path / name, first.id, wal_systems=wal_systems).root
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    own = [f"backups/{first.id}/manifest.json", f"backups/{first.id}/tree.tar"]
    assert mirrored("none", wal_systems=[]) == own
    assert mirrored("one", wal_systems=["111"]) == [*own, "wal/111/000000010000000000000001"]
    assert mirrored("all") == [*own, "wal/111/000000010000000000000001", "wal/222/0000000100"]
    assert second.id not in str(mirrored("all"))

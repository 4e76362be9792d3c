"""The S3 backup repository over HTTP against a moto server: a backup is invisible until its
manifest is committed, and it round-trips byte for byte."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ial_resilience.aws._session import AwsNotFound, AwsTarget, client
from ial_resilience.aws.s3_repository import S3Repository
from ial_resilience.backup.models import FileEntry, Manifest, SourceKind
from ial_resilience.backup.repository import Repository
from ial_resilience.errors import BackupError, InputError
from tests.aws_fixtures import aws_env, moto_endpoint  # noqa: F401

pytestmark = pytest.mark.aws


@pytest.fixture
def repo(aws_env: AwsTarget) -> S3Repository:  # noqa: F811
    bucket = f"repo-{uuid.uuid4().hex[:10]}"
    client("s3", aws_env).create_bucket(Bucket=bucket)
    return S3Repository(aws_env, bucket, prefix="team/db")


def _file(tmp_path: Path, name: str, size: int) -> Path:
    path = tmp_path / name
    path.write_bytes(bytes(i % 251 for i in range(size)))
    return path


def _manifest(backup_id: str, path: Path) -> Manifest:
    now = datetime.now(UTC)
    data = path.read_bytes()
    entry = FileEntry(path=path.name, size=len(data), sha256=hashlib.sha256(data).hexdigest())
    return Manifest(id=backup_id, kind=SourceKind.DIRECTORY, source="/data", started_at=now,
                    ended_at=now, files=(entry,))  # fmt: skip


def test_implements_the_repository_protocol(repo: S3Repository) -> None:
    assert isinstance(repo, Repository)
    assert repo.url == f"s3://{repo.bucket}/team/db"
    again = S3Repository.from_url(repo.url, repo.target)
    assert (again.bucket, again.prefix) == (repo.bucket, "team/db")
    with pytest.raises(InputError, match="not an S3 repository URL"):
        S3Repository.from_url("s3:///nobucket")


def test_backup_is_invisible_until_committed_then_round_trips(
    repo: S3Repository, tmp_path: Path
) -> None:
    data = _file(tmp_path, "base.tar", 3 * 1024 * 1024)
    repo.put("backups/b1/base.tar", data)
    assert repo.list("backups/") == []
    with pytest.raises(BackupError, match=r"no object backups/b1/base\.tar"):
        repo.get("backups/b1/base.tar", tmp_path / "early")
    repo.commit("b1", _manifest("b1", data))
    assert repo.list("backups/") == ["backups/b1/base.tar", "backups/b1/manifest.json"]
    repo.get("backups/b1/base.tar", tmp_path / "back.tar")
    assert (tmp_path / "back.tar").read_bytes() == data.read_bytes()
    assert [m.id for m in repo.manifests()] == ["b1"]
    stored = client("s3", repo.target).list_objects_v2(Bucket=repo.bucket)["Contents"]
    assert all(obj["Key"].startswith("team/db/") for obj in stored)


def test_list_hides_uncommitted_backups_under_every_prefix_listing_once_when_it_can(
    repo: S3Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _file(tmp_path, "base.tar", 1024)
    for key in ("backups/b1/base.tar", "backups/b1/sub/x", "backups/b2/base.tar", "wal/7301/s1"):
        repo.put(key, data)
    repo.commit("b1", _manifest("b1", data))
    listings: list[str] = []
    keys = repo._keys
    monkeypatch.setattr(repo, "_keys", lambda prefix: listings.append(prefix) or keys(prefix))
    b1 = ["backups/b1/base.tar", "backups/b1/manifest.json", "backups/b1/sub/x"]
    # prefix: (keys listed, listings made); a second listing only when the prefix cuts into
    # a backup's directory, so that its manifest may be outside what was listed
    expected = {
        "": ([*b1, "wal/7301/s1"], 1), "backups/": (b1, 1), "backups/b1/": (b1, 1),
        "backups/b2/": ([], 1), "wal/": (["wal/7301/s1"], 1),
        "backups/b1/sub/": (["backups/b1/sub/x"], 2), "backups/b2/b": ([], 2),
    }  # fmt: skip
    for prefix, (listed, calls) in expected.items():
        listings.clear()
        assert (repo.list(prefix), len(listings)) == (listed, calls), prefix


def test_wal_is_listed_at_once_and_abort_removes_an_uncommitted_backup(
    repo: S3Repository, tmp_path: Path
) -> None:
    segment = _file(tmp_path, "000000010000000000000001", 1024)
    repo.put("wal/7301/000000010000000000000001", segment)
    assert repo.list("wal/") == ["wal/7301/000000010000000000000001"]
    repo.put("backups/b2/base.tar", segment)
    repo.abort("b2")
    assert repo._keys("backups/") == []
    repo.delete("wal/7301/000000010000000000000001")
    assert repo.list("") == []


def test_missing_object_and_bad_keys(repo: S3Repository, tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no object wal/x/none"):
        repo.get("wal/x/none", tmp_path / "none")
    with pytest.raises(InputError, match="invalid repository key"):
        repo.put("../escape", _file(tmp_path, "f", 1))


def test_a_missing_bucket_fails_the_write_and_commits_nothing(
    aws_env: AwsTarget,  # noqa: F811
    tmp_path: Path,
) -> None:
    gone = S3Repository(aws_env, f"no-such-{uuid.uuid4().hex[:8]}")
    data = _file(tmp_path, "base.tar", 10)
    with pytest.raises(BackupError, match="NoSuchBucket") as caught:
        gone.commit("b1", _manifest("b1", data))
    assert "cannot write backups/b1/manifest.json" in caught.value.message
    assert "was not committed" in caught.value.hint


def test_directory_backup_into_s3_restores_identically(repo: S3Repository, tmp_path: Path) -> None:
    from ial_resilience.backup.repository import materialize
    from ial_resilience.backup.restore import restore
    from ial_resilience.backup.sources import BackupRequest, run_backup

    source = tmp_path / "site"
    (source / "sub").mkdir(parents=True)
    (source / "index.html").write_text("<h1>orders</h1>\n")
    (source / "sub" / "data.bin").write_bytes(bytes(range(256)) * 64)
    manifest = run_backup(repo, BackupRequest(source=str(source), kind=SourceKind.DIRECTORY))
    assert [m.id for m in repo.manifests()] == [manifest.id]
    local = materialize(repo, tmp_path / "mirror", manifest.id)
    restore(local, local.manifest(manifest.id), str(tmp_path / "restored"))
    for path in (Path("index.html"), Path("sub/data.bin")):
        assert (tmp_path / "restored" / path).read_bytes() == (source / path).read_bytes()


def test_manifest_lookup_like_the_local_repository(repo: S3Repository, tmp_path: Path) -> None:
    data = _file(tmp_path, "tree.tar", 10)
    for backup_id in ("b1", "b2"):
        repo.put(f"backups/{backup_id}/tree.tar", data)
        repo.commit(backup_id, _manifest(backup_id, data))
    assert repo.manifest("latest").id == "b2" and repo.manifest("b1").id == "b1"
    with pytest.raises(InputError, match=r"no complete backup 'b9' in s3://.*latest: b1, b2"):
        repo.manifest("b9")


class _DeletesOnce(S3Repository):
    """Stops (like a killed prune) at the second object it deletes."""

    deleted = 0

    def delete(self, key: str) -> None:
        if self.deleted == 1:
            raise KeyboardInterrupt
        super().delete(key)
        self.deleted += 1


def test_an_interrupted_delete_never_leaves_a_listed_backup_with_missing_files(
    repo: S3Repository, tmp_path: Path
) -> None:
    data = _file(tmp_path, "tree.tar", 10)
    repo.put("backups/b1/tree.tar", data)
    repo.commit("b1", _manifest("b1", data))
    interrupted = _DeletesOnce(repo.target, repo.bucket, repo.prefix)
    with pytest.raises(KeyboardInterrupt):
        interrupted.delete_backup("b1")
    assert repo.manifests() == [] and repo.list("backups/") == []  # unlisted at once
    assert repo._keys("backups/") == ["backups/b1/tree.tar"]  # the remainder, hidden
    repo.delete_backup("b1")
    assert repo._keys("") == []


def test_a_damaged_manifest_is_a_backup_error(repo: S3Repository) -> None:
    client("s3", repo.target).put_object(
        Bucket=repo.bucket, Key="team/db/backups/b1/manifest.json", Body=b'{"id": "b1"'
    )
    with pytest.raises(BackupError, match=r"unreadable manifest s3://.*/backups/b1/manifest\.json"):
        repo.manifests()


def test_require_bucket_names_a_missing_bucket(aws_env: AwsTarget, repo: S3Repository) -> None:  # noqa: F811
    repo.require_bucket()
    missing = S3Repository(aws_env, f"gone-{uuid.uuid4().hex[:8]}")
    with pytest.raises(AwsNotFound, match=f"bucket '{missing.bucket}' does not exist") as caught:
        missing.require_bucket()
    assert f"aws s3 mb s3://{missing.bucket}" in caught.value.hint


class _CommitFails(S3Repository):
    """A real S3 repository whose manifest write fails (the upload before it is real)."""

    def commit(self, backup_id: str, manifest: Manifest) -> None:
        raise OSError(28, "No space left on device")


def test_a_backup_that_fails_after_its_upload_leaves_no_object(
    aws_env: AwsTarget,  # noqa: F811
    repo: S3Repository,
    tmp_path: Path,
) -> None:
    from ial_resilience.backup.sources import BackupRequest, run_backup

    failing = _CommitFails(aws_env, repo.bucket, prefix="team/db")
    source = tmp_path / "site"
    source.mkdir()
    (source / "data.bin").write_bytes(bytes(range(256)) * 64)
    with pytest.raises(BackupError, match="No space left"):
        run_backup(failing, BackupRequest(source=str(source), kind=SourceKind.DIRECTORY))
    listed = client("s3", aws_env).list_objects_v2(Bucket=repo.bucket, Prefix="team/db/")
    assert listed.get("KeyCount", 0) == 0, listed.get("Contents")
    assert repo.manifests() == []

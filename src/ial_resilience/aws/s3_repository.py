"""A backup repository in an S3 bucket, implementing ``ial_resilience.backup.Repository``.

Layout under ``s3://BUCKET/PREFIX/``: ``backups/<id>/<file>`` and ``wal/<system>/<segment>``,
the same keys as the local repository. S3 has no atomic rename, so a backup's files are
uploaded in place and the backup becomes visible only when :meth:`commit` writes its
``manifest.json`` **last**: ``list`` and ``get`` ignore every backup without a manifest, so an
interrupted backup is never listed as complete (``abort`` removes its objects; the bucket's
lifecycle rule aborts multipart uploads left behind). Uploads send a SHA-256 checksum that S3
verifies. :meth:`delete_backup` removes the manifest first, so a prune interrupted half-way
leaves an unlisted remainder, never a listed backup with missing files.

It implements ``ial_resilience.backup.repository.BackupStore``: ``ialr backup … --repo
s3://BUCKET/PREFIX`` uses it; :meth:`require_bucket` checks the bucket before any work.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ial_resilience.aws._session import (
    AwsCredentialsError,
    AwsError,
    AwsNotFound,
    AwsTarget,
    aws_call,
)
from ial_resilience.aws.s3 import s3_client
from ial_resilience.backup.models import MANIFEST_NAME, Manifest
from ial_resilience.backup.repository import find_manifest
from ial_resilience.errors import BackupError, InputError

BACKUPS = "backups"


class S3Repository:
    def __init__(self, target: AwsTarget, bucket: str, prefix: str = "") -> None:
        self.target = target
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    @classmethod
    def from_url(cls, url: str, target: AwsTarget | None = None) -> S3Repository:
        """``s3://BUCKET[/PREFIX]`` → a repository (target default: flags-free resolution)."""
        if not url.startswith("s3://") or not url[5:].split("/", 1)[0]:
            raise InputError(f"{url!r} is not an S3 repository URL",
                             hint="write it as s3://BUCKET or s3://BUCKET/PREFIX")  # fmt: skip
        bucket, _, prefix = url[5:].partition("/")
        return cls(target or AwsTarget.resolve(), bucket, prefix)

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    # -- protocol ---------------------------------------------------------------------
    def put(self, key: str, source: Path) -> None:
        with self._writing(key):
            s3_client(self.target).upload_file(
                str(source), self.bucket, self._object(key),
                ExtraArgs={"ChecksumAlgorithm": "SHA256"},
            )  # fmt: skip

    def get(self, key: str, dest: Path) -> None:
        backup_id = _backup_id(key)
        if backup_id is not None and not self._committed(backup_id):
            raise BackupError(f"{self.url}: no object {key}", hint="run `ialr backup list`")
        try:
            with aws_call(f"download {key} from {self.url}", self.target):
                s3_client(self.target).download_file(self.bucket, self._object(key), str(dest))
        except AwsNotFound as error:
            raise BackupError(
                f"{self.url}: no object {key}", hint="run `ialr backup list`"
            ) from error

    def list(self, prefix: str) -> builtins.list[str]:
        """Committed keys starting with ``prefix`` (backups without a manifest are hidden).

        One listing when ``prefix`` covers whole backup directories (``""``, ``backups/``,
        ``backups/ID/``, ``wal/…``): their manifests are then among the keys listed."""
        keys = self._keys(prefix)
        ids = {backup_id for k in keys if (backup_id := _backup_id(k)) is not None}
        whole = all(f"{BACKUPS}/{backup_id}/".startswith(prefix) for backup_id in ids)
        listed = keys if whole else self._keys(f"{BACKUPS}/")
        committed = {_backup_id(k) for k in listed if _is_manifest(k)}
        return sorted(k for k in keys if _backup_id(k) is None or _backup_id(k) in committed)

    def delete(self, key: str) -> None:
        with aws_call(f"delete {key} from {self.url}", self.target):
            s3_client(self.target).delete_object(Bucket=self.bucket, Key=self._object(key))

    def commit(self, backup_id: str, manifest: Manifest) -> None:
        key = f"{BACKUPS}/{backup_id}/{MANIFEST_NAME}"
        with self._writing(key):
            s3_client(self.target).put_object(
                Bucket=self.bucket, Key=self._object(key), ChecksumAlgorithm="SHA256",
                Body=manifest.model_dump_json(indent=2).encode(),
                ContentType="application/json",
            )  # fmt: skip

    # -- extras -----------------------------------------------------------------------
    def abort(self, backup_id: str) -> None:
        """Remove every object of a backup that was never committed."""
        if self._committed(backup_id):
            raise InputError(f"backup {backup_id} in {self.url} is committed; not aborting it")
        for key in self._keys(f"{BACKUPS}/{backup_id}/"):
            self.delete(key)

    def manifests(self) -> builtins.list[Manifest]:
        """Every committed backup, oldest first."""
        found = [self._read_manifest(k) for k in self.list(f"{BACKUPS}/") if _is_manifest(k)]
        return sorted(found, key=lambda m: (m.started_at, m.id))

    def manifest(self, backup_id: str) -> Manifest:
        """The manifest of ``backup_id`` (or ``latest``); InputError when there is none."""
        return find_manifest(self.manifests(), backup_id, self.url)

    def delete_backup(self, backup_id: str) -> None:
        """Remove a backup: its manifest first (it is no longer listed), then its files."""
        self.delete(f"{BACKUPS}/{backup_id}/{MANIFEST_NAME}")
        for key in self._keys(f"{BACKUPS}/{backup_id}/"):
            self.delete(key)

    def require_bucket(self) -> None:
        """Check that the bucket exists and answers these credentials, before any work."""
        action = f"open the backup repository {self.url}"
        try:
            with aws_call(action, self.target):
                s3_client(self.target).head_bucket(Bucket=self.bucket)
        except AwsNotFound as error:
            raise AwsNotFound(
                f"cannot {action}: bucket {self.bucket!r} does not exist at "
                f"{self.target.describe()}",
                code=error.code,
                hint=f"create it (aws s3 mb s3://{self.bucket}) or check the bucket name, "
                "--region and --endpoint-url",
            ) from error
        except AwsError as error:
            if error.code != "403":
                raise
            raise AwsCredentialsError(
                f"cannot {action}: access to bucket {self.bucket!r} is denied",
                code=error.code,
                hint="use credentials allowed s3:ListBucket, s3:GetObject, s3:PutObject and "
                "s3:DeleteObject on it (--profile, AWS_PROFILE)",
            ) from error

    def _read_manifest(self, key: str) -> Manifest:
        with aws_call(f"read {key} from {self.url}", self.target):
            response = s3_client(self.target).get_object(Bucket=self.bucket, Key=self._object(key))
            body = response["Body"].read()
        try:
            return Manifest.model_validate_json(body)
        except ValidationError as error:
            raise BackupError(
                f"unreadable manifest {self.url}/{key}: {error}",
                hint="the backup is damaged; run `ialr backup verify` on the others and prune it",
            ) from error

    # -- helpers ----------------------------------------------------------------------
    def _object(self, key: str) -> str:
        if ".." in key.split("/") or key.startswith("/") or not key:
            raise InputError(f"invalid repository key {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def _key(self, name: str) -> str:
        return name[len(self.prefix) + 1 :] if self.prefix else name

    def _keys(self, prefix: str) -> builtins.list[str]:
        under = f"{self.prefix}/{prefix}" if self.prefix else prefix
        request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": under}
        keys: builtins.list[str] = []
        while True:
            with aws_call(f"list {prefix} in {self.url}", self.target):
                page = s3_client(self.target).list_objects_v2(**request)
            keys += [self._key(entry["Key"]) for entry in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return keys
            request["ContinuationToken"] = page["NextContinuationToken"]

    def _committed(self, backup_id: str) -> bool:
        """Whether the backup's manifest exists (one HEAD, whatever the number of files)."""
        key = self._object(f"{BACKUPS}/{backup_id}/{MANIFEST_NAME}")
        try:
            with aws_call(f"look for the manifest of {backup_id} in {self.url}", self.target):
                s3_client(self.target).head_object(Bucket=self.bucket, Key=key)
        except AwsNotFound:
            return False
        return True

    @contextmanager
    def _writing(self, key: str) -> Iterator[None]:
        """AWS errors while writing become a BackupError saying nothing was committed."""
        try:
            with aws_call(f"write {key} to {self.url}", self.target):
                yield
        except (AwsError, AwsNotFound) as error:
            raise BackupError(
                error.message,
                hint="check the bucket, its permissions and the credentials; "
                "the incomplete backup was not committed",
            ) from error


def _backup_id(key: str) -> str | None:
    parts = key.split("/", 2)
    return parts[1] if len(parts) == 3 and parts[0] == BACKUPS else None


def _is_manifest(key: str) -> bool:
    return _backup_id(key) is not None and key.endswith(f"/{MANIFEST_NAME}")

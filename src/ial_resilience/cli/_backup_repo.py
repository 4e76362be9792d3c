"""``--repo`` of ``ialr backup``: a local directory or ``s3://BUCKET[/PREFIX]``.

:func:`open_repo` turns the option (and the AWS options, for S3) into a
:class:`~ial_resilience.backup.repository.BackupStore`; :func:`local_copy` gives restore and
verify, which work on local files, a local mirror of one backup from S3 (removed afterwards).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from ial_resilience.backup.models import Manifest
from ial_resilience.backup.repository import BackupStore, LocalRepository, materialize
from ial_resilience.errors import InputError
from ial_resilience.postgres import prepare_dir
from ial_resilience.units import parse_size

S3_SCHEME = "s3://"

Repo = Annotated[
    str,
    typer.Option(
        "--repo",
        help="Repository: a local directory, or s3://BUCKET/PREFIX (prefix optional; AWS "
        "options below)",
    ),
]


@dataclass(frozen=True)
class Aws:
    """The AWS options given with ``--repo`` (only meaningful for an S3 repository)."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None

    @property
    def given(self) -> list[str]:
        flags = {"--region": self.region, "--profile": self.profile,
                 "--endpoint-url": self.endpoint_url}  # fmt: skip
        return [flag for flag, value in flags.items() if value]


def is_s3(location: str) -> bool:
    return location.startswith(S3_SCHEME)


def open_repo(
    location: str, aws: Aws, *, existing: bool = True, max_bytes: str | None = None
) -> BackupStore:
    """The repository at ``location``; ``existing=False`` lets ``backup run`` create a local one.
    An S3 bucket is checked first (missing bucket, credentials), before any work starts."""
    if is_s3(location):
        return _s3(location, aws, max_bytes)
    if aws.given:
        raise InputError(
            f"{', '.join(aws.given)} only apply to an S3 repository; {location!r} is a directory",
            hint=f"write the repository as {S3_SCHEME}BUCKET/PREFIX, or drop the AWS options",
        )
    return _local(Path(location), existing, max_bytes)


def _local(path: Path, existing: bool, max_bytes: str | None) -> LocalRepository:
    if path.exists() and not path.is_dir():
        raise InputError(f"--repo {path} is a file, not a repository directory",
                         hint="pass the directory used by `ialr backup run`")  # fmt: skip
    if existing and not path.is_dir():
        raise InputError(f"no repository at {path}", hint="pass the --repo used by `backup run`")
    return LocalRepository(path, max_bytes=_size(max_bytes))


def _size(max_bytes: str | None) -> int | None:
    try:
        return parse_size(max_bytes) if max_bytes else None
    except ValueError as error:
        raise InputError(f"--max-bytes: {error}") from None


def _s3(url: str, aws: Aws, max_bytes: str | None) -> BackupStore:
    if max_bytes:
        raise InputError(
            "--max-bytes applies to local repositories only",
            hint="drop --max-bytes; keep an S3 repository's size down with `ialr backup prune`",
        )
    from ial_resilience.aws._session import AwsTarget  # boto3: only when S3 is used
    from ial_resilience.aws.s3_repository import S3Repository

    target = AwsTarget.resolve(region=aws.region, profile=aws.profile,
                               endpoint_url=aws.endpoint_url)  # fmt: skip
    repo = S3Repository.from_url(url, target)
    repo.require_bucket()
    return repo


def local_directory(location: str, what: str) -> Path:
    """The directory of a local repository; S3 is refused for commands that need a directory."""
    if is_s3(location):
        raise InputError(
            f"{what} needs a local repository directory, not {location}",
            hint="stream into a local directory (pg_receivewal writes files in place)",
        )
    return Path(location)


@contextmanager
def local_copy(
    store: BackupStore, manifest: Manifest, *, with_wal: bool, step: Callable[[str], None]
) -> Iterator[LocalRepository]:
    """``store`` itself when local; otherwise a temporary local mirror of ``manifest``'s files
    (and, ``with_wal``, the WAL archived for its database), removed when the block ends."""
    if isinstance(store, LocalRepository):
        yield store
        return
    systems = [manifest.wal.system_identifier] if with_wal and manifest.wal else []
    scratch = Path(tempfile.mkdtemp(prefix="ialr-s3-mirror-"))
    try:
        step(f"downloading from {store.url}")
        mirror = materialize(store, scratch, manifest.id, wal_systems=systems)
        prepare_dir(scratch)  # owned by the PostgreSQL tools' user, as pg_basebackup leaves it
        yield mirror
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

"""Snapshot helpers without a database: the checksum form a manifest was written in, and the
SHA-256 of a file taken while another process is still writing it."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
from pathlib import Path

from ial_resilience.backup.models import FileEntry, TableSnapshot
from ial_resilience.backup.snapshot import FileFollower
from ial_resilience.backup.sources import hash_files
from ial_resilience.backup.table_checksum import ChecksumForm, form_of

_WRITER = """
import sys
with open(sys.argv[1], "wb", buffering=0) as out:
    for n in range(96):
        out.write(bytes([n]) * (100_003 + n))  # odd sizes: reads straddle the writes
"""


def _table(checksum: str) -> TableSnapshot:
    return TableSnapshot(name="public.t", rows=1, checksum=checksum)


def test_the_form_is_read_from_the_checksums_prefix() -> None:
    assert form_of([_table("cols:-12")]) == ChecksumForm.COLUMNS
    assert form_of([_table("-820108437976768352338")]) == ChecksumForm.ROWS  # before "cols:"
    # counts-only snapshots carry no checksum: any form compares them the same way
    assert form_of([_table(""), _table("cols:5")]) == ChecksumForm.COLUMNS
    assert form_of([_table("")]) == ChecksumForm.COLUMNS
    assert form_of([]) == ChecksumForm.COLUMNS


def test_the_follower_hashes_a_file_while_another_process_writes_it(tmp_path: Path) -> None:
    target = tmp_path / "base.tar"
    follower = FileFollower(target)
    hashing = threading.Thread(target=follower.run)
    hashing.start()  # before the file exists: it waits for it
    subprocess.run([sys.executable, "-c", _WRITER, str(target)], check=True, timeout=60)
    follower.finish()
    hashing.join(timeout=60)
    assert not hashing.is_alive()
    data = target.read_bytes()
    assert follower.entries(tmp_path) == {
        "base.tar": FileEntry(path="base.tar", size=len(data),
                              sha256=hashlib.sha256(data).hexdigest())}  # fmt: skip


def test_a_follower_that_missed_bytes_offers_nothing_and_the_file_is_hashed_again(
    tmp_path: Path,
) -> None:
    target = tmp_path / "base.tar"
    target.write_bytes(b"x" * 1000)
    follower = FileFollower(target)
    follower.finish()
    follower.run()
    with target.open("ab") as handle:
        handle.write(b"late")  # written after the follower stopped
    assert follower.entries(tmp_path) == {}
    (entry,) = hash_files(tmp_path, follower.entries(tmp_path))
    assert entry.sha256 == hashlib.sha256(b"x" * 1000 + b"late").hexdigest()


def test_a_file_that_never_appeared_ends_the_follower(tmp_path: Path) -> None:
    follower = FileFollower(tmp_path / "base.tar")
    follower.finish()
    follower.run()  # returns: the writer has exited without writing the file
    assert follower.entries(tmp_path) == {}


def test_hashed_entries_of_the_same_size_are_not_read_again(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"abc")
    (tmp_path / "b").write_bytes(b"defg")
    known = {"a": FileEntry(path="a", size=3, sha256="from-the-follower"),
             "b": FileEntry(path="b", size=99, sha256="stale")}  # fmt: skip
    entries = {e.path: e for e in hash_files(tmp_path, known)}
    assert entries["a"].sha256 == "from-the-follower"
    assert entries["b"].sha256 == hashlib.sha256(b"defg").hexdigest()

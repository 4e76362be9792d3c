"""Continuous WAL: ``pg_receivewal`` into the repository, and planning a recovery from it.

The repository keeps segments under ``wal/<system-identifier>/`` (the receiver's current
segment ends in ``.partial``). A recovery needs every segment from the backup's start to the
newest one, without a gap; ``plan_recovery`` checks that, names the first missing segment,
finds the recoverable window (backup end → last commit in the WAL) and stages the segments
for ``restore_command``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from ial_resilience.backup.models import Manifest, WalRange
from ial_resilience.backup.pgtools import (
    SEGMENT_RE,
    connect,
    run_unchecked,
    segment_from_number,
    segment_number,
    spawn,
)
from ial_resilience.errors import BackupError, InputError
from ial_resilience.postgres import prepare_dir

_COMMIT = re.compile(r"desc: COMMIT (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) UTC")


class WalReceiver:
    """``pg_receivewal --synchronous`` streaming a server's WAL into a repository directory."""

    def __init__(self, dsn: str, wal_dir: Path, *, slot: str = "ialr_receivewal") -> None:
        self.dsn = dsn
        self.wal_dir = wal_dir
        self.slot = slot
        self.log = wal_dir.parent / f".{wal_dir.name}.receivewal.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout: float = 20.0) -> WalReceiver:
        prepare_dir(self.wal_dir)
        common = ["-d", self.dsn, "--slot", self.slot]
        run_unchecked(["pg_receivewal", *common, "--create-slot", "--if-not-exists"])
        self.process = spawn(
            ["pg_receivewal", *common, "-D", self.wal_dir, "--synchronous", "-n"],
            log=self.log,
        )
        try:
            self._wait_streaming(timeout)
        except BaseException:
            self.stop()  # never leave a receiver behind (Ctrl-C, timeout)
            raise
        return self

    def _wait_streaming(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with connect(self.dsn, action="watch the WAL receiver") as conn:
            while time.monotonic() < deadline:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' "
                    "AND application_name = 'pg_receivewal'"
                ).fetchone()
                if row and row[0]:
                    return
                if self.process is not None and self.process.poll() is not None:
                    break
                time.sleep(0.05)
        raise BackupError(f"pg_receivewal did not start streaming: {self._log_tail()}")

    def wait_flushed(self, lsn: str, *, timeout: float = 20.0) -> None:
        """Block until the receiver has flushed WAL up to ``lsn`` (a server LSN)."""
        deadline = time.monotonic() + timeout
        with connect(self.dsn, action="watch the WAL receiver") as conn:
            while time.monotonic() < deadline:
                row = conn.execute(
                    "SELECT bool_or(flush_lsn >= %s::pg_lsn) FROM pg_stat_replication "
                    "WHERE application_name = 'pg_receivewal'",
                    (lsn,),
                ).fetchone()
                if row and row[0]:
                    return
                time.sleep(0.02)
        raise BackupError(f"pg_receivewal did not flush WAL up to {lsn} within {timeout:.0f}s")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace").strip()[-800:]
        except OSError:
            return "(no log)"

    def __enter__(self) -> WalReceiver:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class RecoveryPlan:
    """What a restore will replay: staged WAL, the window, the target (None = to the end)."""

    wal_dir: Path | None
    earliest: datetime
    latest: datetime
    target: datetime | None
    segments: int


def archived_segments(wal_dir: Path, timeline: int) -> dict[str, Path]:
    """Segment name → file for one timeline; a complete segment wins over its ``.partial``."""
    found: dict[str, Path] = {}
    if not wal_dir.is_dir():
        return found
    for entry in sorted(wal_dir.iterdir(), key=lambda p: p.name.endswith(".partial")):
        match = SEGMENT_RE.match(entry.name)
        if match and int(match.group(1)[:8], 16) == timeline:
            found.setdefault(match.group(1), entry)
    return found


def check_continuity(wal: WalRange, archived: dict[str, Path]) -> list[str]:
    """Segment names needed from the backup start to the newest archived one, in order.

    Segments inside the backup's own range are shipped in the backup (``-X stream``).
    Raises BackupError naming the first missing segment.
    """
    size = wal.segment_size
    first = segment_number(wal.start_segment, size)
    own_last = segment_number(wal.end_segment, size)
    numbers = [segment_number(name, size) for name in archived]
    newest = max([own_last, *numbers])
    needed = []
    for segno in range(first, newest + 1):
        name = segment_from_number(wal.timeline, segno, size)
        if name not in archived and segno > own_last:
            raise BackupError(
                f"WAL segment {name} is missing from the repository (needed to replay from "
                f"{wal.start_segment} to {segment_from_number(wal.timeline, newest, size)})",
                hint="point-in-time recovery cannot cross a gap; restore an older target or "
                "a newer backup",
            )
        if name in archived:
            needed.append(name)
    return needed


def stage_segments(archived: dict[str, Path], names: list[str], stage: Path) -> None:
    """Hard-link (or copy) the needed segments into ``stage`` under their full names."""
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    for name in names:
        source = archived[name]
        target = stage / name
        if source.name.endswith(".partial"):
            shutil.copyfile(source, target)
            continue
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
    prepare_dir(stage)


def last_commit_time(stage: Path, names: list[str]) -> datetime | None:
    """Time of the newest COMMIT record in the staged WAL (read with ``pg_waldump``)."""
    for index in range(len(names) - 1, max(-1, len(names) - 5), -1):
        result = run_unchecked(["pg_waldump", "-p", stage, names[index], names[-1]], timeout=120)
        stamps = _COMMIT.findall(result.stdout)
        if stamps:
            return datetime.fromisoformat(stamps[-1]).replace(tzinfo=UTC)
    return None


def plan_recovery(
    manifest: Manifest, wal_root: Path, stage: Path, target: datetime | None
) -> RecoveryPlan:
    """Check the WAL, find the window, stage the segments; refuse a target outside it."""
    wal = manifest.wal
    if wal is None:
        raise InputError(f"backup {manifest.id} is not a physical backup; it has no WAL")
    archived = archived_segments(wal_root / wal.system_identifier, wal.timeline)
    earliest = manifest.ended_at
    names = check_continuity(wal, archived) if archived else []
    if names:
        stage_segments(archived, names, stage)
    latest = (last_commit_time(stage, names) if names else None) or earliest
    latest = max(latest, earliest)
    if target is not None and not earliest <= target <= latest:
        raise InputError(
            f"target {target.isoformat()} is outside the recoverable window of backup "
            f"{manifest.id}: {earliest.isoformat()} to {latest.isoformat()}",
            hint="pick a time inside the window, or an older backup for an earlier time",
        )
    effective = None if target is None or target >= latest else target
    return RecoveryPlan(
        wal_dir=stage if names else None,
        earliest=earliest,
        latest=latest,
        target=effective,
        segments=len(names),
    )

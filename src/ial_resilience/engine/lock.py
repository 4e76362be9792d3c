"""One run at a time per system: an ``fcntl.flock`` lock file in the state directory.

The lock is held by the open file descriptor, so the kernel releases it when the process dies
(even by ``kill -9``); the file keeps the holder's pid and experiment for the refusal message.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from pathlib import Path
from types import TracebackType

from ial_resilience.errors import InputError, LockHeld

LOCK_DIR = "locks"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "system"


class RunLock:
    """``with RunLock(state_dir, system, experiment):`` — raises :class:`LockHeld` if taken."""

    def __init__(self, state_dir: Path, system: str, experiment: str) -> None:
        self.path = state_dir / LOCK_DIR / f"{_slug(system)}.lock"
        self.system = system
        self.experiment = experiment
        self._fd = -1

    def acquire(self) -> RunLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise InputError(
                f"cannot create the run lock {self.path}: {error.strerror}",
                hint="choose a writable state directory with --state-dir",
            ) from error
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise LockHeld(
                f"another run holds the lock of system {self.system!r} ({self.path}): {holder}",
                hint="wait for it to finish (or stop it); one run at a time per system",
            ) from None
        os.ftruncate(fd, 0)
        record = {"pid": os.getpid(), "experiment": self.experiment}
        os.pwrite(fd, json.dumps(record).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd >= 0:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing releases the flock
            self._fd = -1

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        record = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        return f"pid {record['pid']} running {record['experiment']!r}"
    except (OSError, ValueError, KeyError):
        return "holder unknown"

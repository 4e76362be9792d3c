"""Processes the agent knows by name: spawned by it, or adopted by pid.

Rules (documented in docs/INTERFACES.md §2 and the agent guide):

- a *spawned* process is started by the agent with ``argv`` (``env`` is added to the agent's
  environment, ``cwd`` optional); stdout and stderr go to ``<state>/logs/<name>.log``. The
  agent can start it again (``restart`` fault, revert of a ``kill``) and stops it when the
  agent exits (or its watchdog does, when the agent dies);
- an *adopted* process is someone else's (``pid``); the agent signals it but never starts it
  again and leaves it running when the agent exits;
- killing a process never deletes its registration: ``alive`` turns false and ``pid`` keeps the
  last pid, so a later respawn or a status query still finds it;
- what a crash of the agent would leave broken (the processes it spawned, the ones it stopped
  with SIGSTOP) is handed to ``on_change`` as :class:`HeldProcess` tuples each time it changes:
  *before* a SIGSTOP is sent, *after* a process is started. The agent writes them to its
  holdings file, which its watchdog reads when the agent dies (:mod:`.watchdog`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import psutil

from ial_resilience.agent.errors import Conflict, NotFound
from ial_resilience.agent.repair import process_running
from ial_resilience.agent.state import HeldKind, HeldProcess
from ial_resilience.errors import FaultRejected, InputError

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
HoldingsSink = Callable[[tuple[HeldProcess, ...]], None]
log = logging.getLogger("ialr.agent")
STOP_GRACE_S = 5.0
POLL_S = 0.01


class Origin(StrEnum):
    SPAWNED = "spawned"
    ADOPTED = "adopted"


@dataclass
class ManagedProcess:
    """One named process. Mutable: ``pid``, ``popen`` and ``restarts`` change on respawn."""

    name: str
    origin: Origin
    pid: int
    argv: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    popen: subprocess.Popen[bytes] | None = None
    create_time: float = 0.0
    restarts: int = 0
    paused: bool = False


def wait_until(predicate: Any, timeout: float) -> bool:
    """Poll ``predicate()`` until it is true or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)


def _check_name(name: str) -> None:
    if not NAME_PATTERN.match(name):
        raise InputError(
            f"process name {name!r} is not allowed; expected 1-64 letters, digits, '.', '_' or '-'"
            " starting with a letter or digit"
        )


class ProcessTable:
    """The agent's named processes. Thread-safe."""

    def __init__(self, logs_dir: Path, on_change: HoldingsSink | None = None) -> None:
        self._logs_dir = logs_dir
        self._lock = threading.Lock()
        self._processes: dict[str, ManagedProcess] = {}
        self._on_change = on_change
        self._held_lock = threading.Lock()  # one holdings write at a time, newest state wins
        self._stopped: dict[str, HeldProcess] = {}  # SIGSTOP sent, no SIGCONT yet

    # registration -------------------------------------------------------------------------

    def spawn(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        cwd: str | None = None,
    ) -> ManagedProcess:
        """Start ``argv`` and register it under ``name``."""
        _check_name(name)
        if not argv or not all(isinstance(arg, str) and arg for arg in argv):
            raise InputError(
                f"process {name!r}: argv must be a non-empty list of non-empty strings"
            )
        if cwd is not None and not Path(cwd).is_dir():
            raise InputError(f"process {name!r}: cwd {cwd} is not a directory")
        process = ManagedProcess(
            name=name, origin=Origin.SPAWNED, pid=0, argv=tuple(argv), env=dict(env or {}), cwd=cwd
        )
        with self._lock:
            self._reserve(name)
            try:
                self._start(process)
            except BaseException:
                del self._processes[name]
                raise
            self._processes[name] = process
        try:
            self._record()
        except InputError:
            self.terminate(process, grace=2.0)
            with self._lock:
                self._processes.pop(name, None)
            raise
        return process

    def adopt(self, name: str, pid: int) -> ManagedProcess:
        """Register an existing process by pid (the agent will signal it, never start it)."""
        _check_name(name)
        if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 1 or pid == os.getpid():
            raise InputError(
                f"process {name!r}: pid {pid!r} cannot be adopted; give another process's pid"
            )
        try:
            info = psutil.Process(pid)
            argv = tuple(info.cmdline())
            create_time = info.create_time()
        except psutil.NoSuchProcess as error:
            raise NotFound(f"process {name!r}: no process with pid {pid}") from error
        except psutil.AccessDenied as error:
            raise InputError(f"process {name!r}: pid {pid} belongs to another user") from error
        process = ManagedProcess(
            name=name, origin=Origin.ADOPTED, pid=pid, argv=argv, create_time=create_time
        )
        with self._lock:
            self._reserve(name)
            self._processes[name] = process
        return process

    def _reserve(self, name: str) -> None:
        if name in self._processes:
            raise Conflict(
                f"a process named {name!r} is already registered (pid {self._processes[name].pid})"
            )
        self._processes[name] = ManagedProcess(name=name, origin=Origin.SPAWNED, pid=0)

    def _start(self, process: ManagedProcess) -> None:
        log_path = self._logs_dir / f"{process.name}.log"
        try:
            with open(log_path, "ab") as log:
                popen = subprocess.Popen(
                    list(process.argv),
                    env={**os.environ, **process.env},
                    cwd=process.cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except OSError as error:
            raise InputError(
                f"process {process.name!r}: cannot start {process.argv[0]!r}: {error.strerror}"
            ) from error
        process.popen = popen
        process.pid = popen.pid
        process.paused = False
        try:
            process.create_time = psutil.Process(popen.pid).create_time()
        except psutil.Error:
            process.create_time = 0.0

    # queries ------------------------------------------------------------------------------

    def get(self, name: str) -> ManagedProcess:
        with self._lock:
            process = self._processes.get(name)
        if process is None or process.pid == 0:
            raise NotFound(f"no process named {name!r}; register it with POST /v1/processes first")
        return process

    def names(self) -> list[str]:
        with self._lock:
            return [name for name, process in self._processes.items() if process.pid]

    def is_alive(self, process: ManagedProcess) -> bool:
        if process.popen is not None:
            return process.popen.poll() is None
        return process_running(process.pid, process.create_time)  # the same process, not a reuse

    def snapshot(self, process: ManagedProcess) -> dict[str, Any]:
        return {
            "name": process.name,
            "pid": process.pid,
            "argv": list(process.argv),
            "alive": self.is_alive(process),
            "restarts": process.restarts,
            "paused": process.paused,
            "origin": str(process.origin),
        }

    def snapshots(self) -> list[dict[str, Any]]:
        return [self.snapshot(self.get(name)) for name in self.names()]

    # actions ------------------------------------------------------------------------------

    def send(self, process: ManagedProcess, signum: int) -> None:
        """Send a signal; a process that is already gone → :class:`FaultRejected`.

        A SIGSTOP is recorded as held before it is sent (a crash right after it leaves a record
        the watchdog resumes); a SIGCONT is recorded after it is sent.
        """
        if not self.is_alive(process):
            raise FaultRejected(f"process {process.name!r} (pid {process.pid}) is not running")
        if signum == signal.SIGSTOP:
            self._hold_stopped(process)
        try:
            self._kill(process, signum)
        except FaultRejected:
            self._release_stopped(process)
            raise
        if signum == signal.SIGCONT:
            self._release_stopped(process)

    def _kill(self, process: ManagedProcess, signum: int) -> None:
        try:
            os.kill(process.pid, signum)
        except ProcessLookupError as error:
            raise FaultRejected(f"process {process.name!r} (pid {process.pid}) is gone") from error
        except PermissionError as error:
            raise FaultRejected(
                f"process {process.name!r} (pid {process.pid}): not permitted to signal it"
            ) from error

    def wait_exit(self, process: ManagedProcess, timeout: float) -> int | None:
        """Wait until the process is gone; its exit status if the agent is its parent."""
        status = None
        if process.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                status = process.popen.wait(timeout)
        else:
            wait_until(lambda: not self.is_alive(process), timeout)
        if not self.is_alive(process):
            self._release_stopped(process)  # a dead process holds nothing
        return status

    def is_stopped(self, process: ManagedProcess) -> bool:
        try:
            return psutil.Process(process.pid).status() == psutil.STATUS_STOPPED
        except psutil.Error:
            return False

    def terminate(self, process: ManagedProcess, grace: float = STOP_GRACE_S) -> int | None:
        """SIGTERM (and SIGCONT if paused), then SIGKILL after ``grace`` seconds. A spawned
        process gets them on its whole process group (its children too), as from the watchdog.
        """
        if not self.is_alive(process):
            return self.wait_exit(process, 0)
        for signum in (signal.SIGTERM, signal.SIGCONT):
            _quiet_kill(process, signum)
        self._release_stopped(process)
        status = self.wait_exit(process, grace)
        if self.is_alive(process):
            _quiet_kill(process, signal.SIGKILL)
            status = self.wait_exit(process, grace)
        process.paused = False
        return status

    def respawn(self, process: ManagedProcess) -> int:
        """Start a spawned process again with the same argv; returns the new pid."""
        if process.origin is not Origin.SPAWNED:
            raise FaultRejected(
                f"process {process.name!r} was adopted by pid, so the agent cannot start it again",
                hint="register it with argv (POST /v1/processes with argv) to allow restarts",
            )
        if self.is_alive(process):
            raise FaultRejected(f"process {process.name!r} is still running (pid {process.pid})")
        with self._lock:
            self._stopped.pop(process.name, None)
        self._start(process)
        process.restarts += 1
        self._record_quietly()
        return process.pid

    def remove(self, name: str) -> dict[str, Any]:
        """Stop a spawned process (adopted ones are left running) and forget its name."""
        process = self.get(name)
        if process.origin is Origin.SPAWNED:
            self.terminate(process, grace=2.0)
        with self._lock:
            self._processes.pop(name, None)
            self._stopped.pop(name, None)
        self._record_quietly()
        return self.snapshot(process)

    def stop_spawned(self) -> None:
        """Stop every process the agent spawned (at agent exit); adopted ones are left alone."""
        with self._lock:
            spawned = [p for p in self._processes.values() if p.origin is Origin.SPAWNED and p.pid]
        for process in spawned:
            self.terminate(process, grace=2.0)

    # holdings: what a crash of the agent would leave broken ----------------------------------

    def held(self) -> tuple[HeldProcess, ...]:
        """Every spawned process (with the pid it has now) and every process stopped by us."""
        with self._lock:
            spawned = [
                HeldProcess(HeldKind.SPAWNED, p.name, p.pid, p.create_time)
                for p in self._processes.values()
                if p.origin is Origin.SPAWNED and p.pid
            ]
            stopped = list(self._stopped.values())
        return tuple(spawned + stopped)

    def _record(self) -> None:
        """Hand the holdings to ``on_change``; a failure → :class:`InputError` (nothing held)."""
        if self._on_change is None:
            return
        with self._held_lock:
            try:
                self._on_change(self.held())
            except OSError as error:
                raise InputError(
                    f"cannot record what the agent holds: {error.strerror or error}",
                    hint="free space in (or fix the permissions of) the agent's state dir",
                ) from error

    def _record_quietly(self) -> None:
        """Record after something was released or restarted: a failure is logged, not raised."""
        try:
            self._record()
        except InputError as error:
            log.error("%s", error.message)

    def _hold_stopped(self, process: ManagedProcess) -> None:
        with self._lock:
            self._stopped[process.name] = HeldProcess(
                HeldKind.PAUSED, process.name, process.pid, process.create_time
            )
        try:
            self._record()
        except InputError as error:
            with self._lock:
                self._stopped.pop(process.name, None)
            raise FaultRejected(
                f"process {process.name!r} was not paused: {error.message}", hint=error.hint
            ) from error

    def _release_stopped(self, process: ManagedProcess) -> None:
        with self._lock:
            released = self._stopped.pop(process.name, None)
        if released is not None:
            self._record_quietly()


def _quiet_kill(process: ManagedProcess, signum: int) -> None:
    """Signal the process, or the group a spawned one leads while it is not yet reaped (its
    pid, hence its group id, cannot have been reused); errors are ignored."""
    pid = process.pid
    with contextlib.suppress(OSError):
        if process.popen is not None and process.popen.poll() is None and os.getpgid(pid) == pid:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)

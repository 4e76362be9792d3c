"""The agent's side of its watchdog (:mod:`ial_resilience.agent.watchdog`).

:class:`Watchdog` starts the watchdog process with the read end of a pipe as its stdin and
keeps the write end for the agent's whole life: at a clean exit it writes that it exits
cleanly and waits for the watchdog; if the agent dies, the kernel closes it, which is the
watchdog's signal to repair. If the watchdog dies while the agent runs, a thread
starts a new one (at most one per second), so the guarantee holds for the agent's whole life.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import threading
import time
from pathlib import Path

import psutil

from ial_resilience.agent.watchdog import CLEAN_EXIT, argv_for
from ial_resilience.errors import IalrError

log = logging.getLogger("ialr.agent")
RESTART_BACKOFF_S = 1.0
EXIT_WAIT_S = 2.0


class Watchdog:
    """Start the watchdog, hold its pipe, start a new one if it dies; :meth:`close` at exit."""

    def __init__(self, state_dir: Path) -> None:
        self._state_dir = state_dir
        self._me = psutil.Process()
        self._closing = threading.Event()
        self._write_fd = -1
        self._popen: subprocess.Popen[bytes] | None = None
        self._monitor = threading.Thread(target=self._keep_alive, name="watchdog", daemon=True)

    @property
    def pid(self) -> int:
        return self._popen.pid if self._popen is not None else 0

    def start(self) -> None:
        """Start the watchdog (IalrError if it cannot be started) and the thread that keeps it."""
        self._spawn()
        self._monitor.start()

    def _spawn(self) -> None:
        read_fd, write_fd = os.pipe()  # both close-on-exec: spawned processes never hold them
        argv = argv_for(self._state_dir, self._me.pid, self._me.create_time())
        try:
            self._popen = subprocess.Popen(
                argv, stdin=read_fd, stdout=subprocess.DEVNULL, start_new_session=True
            )
        except OSError as error:
            os.close(write_fd)
            raise IalrError(
                f"cannot start the agent's watchdog ({argv[0]}): {error.strerror}",
                hint="the agent does not run without it: a crash would leave paused processes",
            ) from error
        finally:
            os.close(read_fd)
        previous, self._write_fd = self._write_fd, write_fd
        if previous >= 0:
            os.close(previous)

    def _keep_alive(self) -> None:
        while self._popen is not None:
            started = time.monotonic()
            code = self._popen.wait()
            if self._closing.is_set():
                return
            log.warning("watchdog %d exited (%s); starting a new one", self._popen.pid, code)
            self._closing.wait(max(0.0, RESTART_BACKOFF_S - (time.monotonic() - started)))
            if self._closing.is_set():
                return
            try:
                self._spawn()
            except IalrError as error:
                log.error("%s; trying again", error.message)

    def close(self, timeout: float = EXIT_WAIT_S) -> None:
        """At a clean exit, once everything is undone: tell the watchdog, wait for it to exit
        (so nothing of the agent outlives it)."""
        self._closing.set()
        if self._write_fd < 0:
            return
        with contextlib.suppress(OSError):  # a watchdog that just died: nothing to tell
            os.write(self._write_fd, CLEAN_EXIT)
        os.close(self._write_fd)
        self._write_fd = -1
        if self._popen is not None:
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("watchdog %d did not exit within %g s", self._popen.pid, timeout)

"""Socket and thread plumbing for the link runtime (Linux): RST, pipes, small thread stacks."""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import resource
import socket
import struct
import threading
from collections.abc import Callable

PIPE_SIZE = 1 << 20  # bytes moved per splice; pipes are enlarged to this when allowed
THREAD_STACK = 512 * 1024
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_LINGER_ZERO = struct.pack("ii", 1, 0)
_UNSPEC = struct.pack("H14x", socket.AF_UNSPEC)
_PR_SET_TIMERSLACK = 29
_libc = ctypes.CDLL(None, use_errno=True)
_stack_lock = threading.Lock()


def make_pipe() -> tuple[int, int]:
    """A close-on-exec pipe, enlarged to :data:`PIPE_SIZE` when the limits allow it."""
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    with contextlib.suppress(OSError):  # over the user's pipe quota: the default size works
        fcntl.fcntl(write_fd, _F_SETPIPE_SZ, PIPE_SIZE)
    return read_fd, write_fd


def close_fds(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def abort(sock: socket.socket) -> None:
    """Send RST at once and wake every thread blocked on ``sock`` (the fd stays open).

    SO_LINGER 0 makes the later close() silent; connect(AF_UNSPEC) disconnects the TCP socket
    now, which sends RST to the peer and fails pending reads and writes.
    """
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
        fd = sock.fileno()
    except OSError:
        return
    if fd >= 0:
        buf = ctypes.create_string_buffer(_UNSPEC, len(_UNSPEC))
        _libc.connect(fd, buf, len(_UNSPEC))


def shutdown_quietly(sock: socket.socket, how: int) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(how)


def tune(sock: socket.socket) -> None:
    """Small messages go out at once (the proxy must not add Nagle delays)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def precise_timers() -> None:
    """Shrink this thread's timer slack from 50 µs to 1 µs so timed waits end on time."""
    with contextlib.suppress(AttributeError, OSError):
        _libc.prctl(_PR_SET_TIMERSLACK, 1, 0, 0, 0)


class TimingPriority:
    """Real-time scheduling (``SCHED_FIFO``, lowest priority) for a thread while it waits for a
    deadline, so a busy machine does not wake it milliseconds late; normal scheduling again
    for streams. Needs CAP_SYS_NICE (or an RLIMIT_RTPRIO); without it nothing changes.

    Bounded by design: the thread sleeps in the kernel until just before each deadline and
    spins at most :data:`_link_writer._SPIN` after it, and the kernel's real-time throttling
    (``sched_rt_runtime_us``) keeps 5 % of every CPU for normal tasks whatever happens.
    """

    available = hasattr(os, "SCHED_FIFO")  # cleared for every thread after the first refusal

    def __init__(self) -> None:
        self.active = False

    def set(self, realtime: bool) -> None:
        """Switch the calling thread (a no-op when already so, or when not permitted)."""
        if realtime == self.active or not TimingPriority.available:
            return
        try:
            if realtime:
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
            else:
                os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        except (OSError, AttributeError):
            TimingPriority.available = False
            return
        self.active = realtime


def spawn(target: Callable[[], None], name: str) -> threading.Thread:
    """Start a daemon thread with a small stack (a link may hold thousands of them)."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    with _stack_lock:
        previous = threading.stack_size(THREAD_STACK)
        try:
            thread.start()
        finally:
            threading.stack_size(previous)
    return thread


def raise_nofile_limit() -> None:
    """Raise the soft open-files limit to the hard one (each connection holds six fds)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

"""Kernel pipes that hold a chunk's bytes while toxics delay it: the zero-copy pipeline.

With only size-and-time stages active (latency, loss, timeout) a pump splices each chunk
from the socket into a pipe of its own and the writer splices it out when it is due, so
bytes never enter userspace. A direction owns one pool; pipes are reused once drained.
"""

from __future__ import annotations

import os
import threading

from ial_resilience.agent._link_sock import PIPE_SIZE, close_fds, make_pipe

Pipe = tuple[int, int]  # (read fd, write fd)
MAX_HELD = 64  # pipes holding bytes at once per direction; beyond, chunks go to userspace


class PipePool:
    """The pipes of one direction. Thread-safe; ``close()`` closes every pipe it made."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free: list[Pipe] = []
        self._made: set[Pipe] = set()
        self._closed = False
        self.in_use = 0

    def has_room(self) -> bool:
        """False when many small chunks already hold pipes (each costs two fds)."""
        return self.in_use < MAX_HELD

    def take(self) -> Pipe:
        with self._lock:
            self.in_use += 1
            if self._free:
                return self._free.pop()
            pipe = make_pipe()
            self._made.add(pipe)
            return pipe

    def give(self, pipe: Pipe) -> None:
        """Return a drained pipe for reuse."""
        with self._lock:
            self.in_use -= 1
            if not self._closed:
                self._free.append(pipe)

    def discard(self, pipe: Pipe) -> None:
        """Close a pipe that still holds bytes nobody will read."""
        with self._lock:
            self.in_use -= 1
            if pipe in self._made:
                self._made.discard(pipe)
                close_fds(*pipe)

    def fill(self, src_fd: int) -> HeldPipe | None:
        """Splice what the socket has (blocking until something) into a pipe; None at EOF."""
        pipe = self.take()
        size = os.splice(src_fd, pipe[1], PIPE_SIZE)
        if size == 0:
            self.give(pipe)
            return None
        return HeldPipe(self, pipe, size)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for pipe in self._made:
                close_fds(*pipe)
            self._made.clear()
            self._free.clear()


class HeldPipe:
    """``size`` bytes waiting in one pipe of a pool."""

    __slots__ = ("_pipe", "_pool", "size")

    def __init__(self, pool: PipePool, pipe: Pipe, size: int) -> None:
        self._pool = pool
        self._pipe = pipe
        self.size = size

    def send_to(self, dst_fd: int) -> None:
        """Splice every held byte to ``dst_fd`` (blocking) and give the pipe back."""
        left = self.size
        while left:
            left -= os.splice(self._pipe[0], dst_fd, left)
        self._pool.give(self._pipe)

    def take_bytes(self) -> bytes:
        parts, left = [], self.size
        while left:
            part = os.read(self._pipe[0], left)
            parts.append(part)
            left -= len(part)
        self._pool.give(self._pipe)
        return b"".join(parts)

    def discard(self) -> None:
        self._pool.discard(self._pipe)

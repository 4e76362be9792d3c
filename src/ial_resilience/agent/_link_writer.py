"""The output side of a direction while toxics are active: chunks leave at their due time.

The writer keeps chunks in arrival order (a FIFO, so nothing is ever reordered) and sends the
head once its ``due`` time has come: it sleeps until just before the deadline and then spins
briefly, which hits the deadline within tens of microseconds. ``flush()`` (a toxic was
removed) lets everything already queued leave at once: a removed stage forwards what it holds.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from collections.abc import Callable

from ial_resilience.faults.toxics._stage import Chunk

QUEUE_CAP = 64 << 20  # bytes held per direction before the reader waits (backpressure)
_SPIN = 0.0004  # seconds before a deadline at which sleeping stops and spinning starts


class Writer:
    """Sends queued chunks to ``dst`` on its own thread; reports the end through callbacks."""

    def __init__(
        self,
        dst: socket.socket,
        count: Callable[[int], None],
        on_eof: Callable[[], None],
        on_error: Callable[[OSError], None],
    ) -> None:
        self._dst = dst
        self._count = count
        self._on_eof = on_eof
        self._on_error = on_error
        self._cond = threading.Condition()
        self._queue: deque[tuple[int, Chunk, bool]] = deque()  # (seq, chunk, end of stream)
        self._queued_bytes = 0
        self._pending = 0  # chunks queued or being sent
        self._seq = 0
        self._flush_mark = -1
        self._closed = False

    # reader side -----------------------------------------------------------------------
    def put(self, chunks: list[Chunk]) -> None:
        with self._cond:
            while self._queued_bytes > QUEUE_CAP and not self._closed:
                self._cond.wait()
            for chunk in chunks:
                self._seq += 1
                self._queue.append((self._seq, chunk, False))
                self._queued_bytes += len(chunk.data)
                self._pending += 1
            self._cond.notify_all()

    def put_eof(self, due: float) -> None:
        """Queue the end of stream; it leaves at ``due`` (slow_close) after every chunk."""
        with self._cond:
            self._seq += 1
            self._queue.append((self._seq, Chunk(b"", due, due), True))
            self._pending += 1
            self._cond.notify_all()

    def idle(self) -> bool:
        with self._cond:
            return self._pending == 0

    def flush(self) -> None:
        """Let every chunk queued so far leave now (a toxic was removed)."""
        with self._cond:
            self._flush_mark = self._seq
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # writer thread ---------------------------------------------------------------------
    def run(self) -> None:
        try:
            while self._send_next():
                pass
        except OSError as exc:
            self._on_error(exc)
        finally:
            self.close()

    def _send_next(self) -> bool:
        item = self._next_due()
        if item is None:
            return False
        chunk, eof = item
        if eof:
            self._on_eof()
            return False
        if chunk.data:
            self._dst.sendall(chunk.data)
            sent = time.monotonic()
            self._count(len(chunk.data))
            for evidence in chunk.measured_by:
                evidence.record_delay(sent - chunk.arrival)
        with self._cond:
            self._pending -= 1
        return True

    def _next_due(self) -> tuple[Chunk, bool] | None:
        """Wait for the head chunk's due time and pop it; None once closed."""
        with self._cond:
            while True:
                if self._closed:
                    return None
                if not self._queue:
                    self._cond.wait()
                    continue
                seq, chunk, eof = self._queue[0]
                flushed = seq <= self._flush_mark
                wait = 0.0 if flushed else chunk.due - time.monotonic()
                if wait > _SPIN:
                    self._cond.wait(wait - _SPIN)
                    continue
                break
        if wait > 0:
            _spin_until(chunk.due)
        with self._cond:
            self._queue.popleft()
            self._queued_bytes -= len(chunk.data)
            self._cond.notify_all()
        return chunk, eof


def _spin_until(deadline: float) -> None:
    while time.monotonic() < deadline:
        time.sleep(0)

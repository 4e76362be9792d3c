"""The output side of a direction while toxics are active: chunks leave at their due time.

The writer keeps chunks in arrival order (a FIFO, so nothing is ever reordered) and sends the
head once its ``due`` time has come: it sleeps until just before the deadline and then spins
briefly, which hits the deadline within tens of microseconds. While it waits for a lone
chunk's deadline the thread runs with real-time priority where permitted (root), because on a
busy machine a normal thread wakes milliseconds late at p99. ``flush()`` (a toxic was
removed) lets everything already queued leave at once: a removed stage forwards what it holds.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from collections.abc import Callable

from ial_resilience.agent._link_sock import TimingPriority, precise_timers
from ial_resilience.faults.toxics._stage import Chunk

QUEUE_CAP = 160 << 20  # bytes held per direction before the reader waits: the bandwidth-delay
# product a fast stream needs (160 MiB = 3.1 GiB/s at 50 ms); beyond it the reader waits
_SPIN = 0.0004  # seconds before a deadline at which sleeping stops and spinning starts
_SPIN_QUEUE = 2  # spin only when at most this many chunks are queued
_TIGHT = 0.00015
_BATCH = 256  # chunks sent in one sendmsg at most
_BATCH_BYTES = 4 << 20
_IOV_MAX = 1024


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
        self._priority = TimingPriority()

    # reader side -----------------------------------------------------------------------
    def put(self, chunks: list[Chunk]) -> None:
        with self._cond:
            while self._queued_bytes > QUEUE_CAP and not self._closed:
                self._cond.wait()
            idle = not self._queue
            for chunk in chunks:
                self._seq += 1
                self._queue.append((self._seq, chunk, False))
                self._queued_bytes += chunk.size
                self._pending += 1
            if idle:  # otherwise the writer is already waiting for the head's due time
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
        precise_timers()
        try:
            while self._send_next():
                pass
        except OSError as exc:
            self._on_error(exc)
        finally:
            self.close()

    def _send_next(self) -> bool:
        batch = self._next_batch()
        if batch is None:
            return False
        chunks, eof = batch
        released = time.monotonic()  # the added delay ends when the chunk is handed to the kernel
        self._send(chunks)
        self._count(sum(chunk.size for chunk in chunks))
        for chunk in chunks:
            for evidence in chunk.measured_by:
                evidence.record_delay(released - chunk.arrival)
        with self._cond:
            self._pending -= len(chunks)
        if eof:
            self._on_eof()
            return False
        return True

    def _next_batch(self) -> tuple[list[Chunk], bool] | None:
        """The head chunk once due, plus the chunks behind it that are due too (one send)."""
        if not self._wait_for_head():
            return None
        chunks: list[Chunk] = []
        size, eof = 0, False
        with self._cond:
            now = time.monotonic()
            while self._queue and len(chunks) < _BATCH and size < _BATCH_BYTES:
                seq, chunk, is_eof = self._queue[0]
                if chunks and seq > self._flush_mark and chunk.due > now:
                    break
                self._queue.popleft()
                self._queued_bytes -= chunk.size
                if is_eof:
                    eof = True
                    break
                chunks.append(chunk)
                size += chunk.size
            self._cond.notify_all()
        return chunks, eof

    def _send(self, chunks: list[Chunk]) -> None:
        """Send in order: runs of userspace bytes in one sendmsg, held pipes by splice."""
        run: list[bytes] = []
        for chunk in chunks:
            if chunk.held is None:
                if chunk.data:
                    run.append(chunk.data)
                continue
            if run:
                send_vectored(self._dst, run)
                run = []
            chunk.held.send_to(self._dst.fileno())
        if run:
            send_vectored(self._dst, run)

    def _wait_for_head(self) -> bool:
        """Sleep until just before the head chunk is due, then spin to it; False once closed."""
        with self._cond:
            while True:
                if self._closed:
                    return False
                if not self._queue:
                    self._cond.wait()
                    continue
                seq, chunk, _ = self._queue[0]
                wait = 0.0 if seq <= self._flush_mark else chunk.due - time.monotonic()
                # A lone chunk (request/response traffic) gets a short spin to leave on time;
                # a stream keeps the writer near a deadline all along, so it sleeps instead.
                lone = len(self._queue) <= _SPIN_QUEUE
                spin = _SPIN if lone else 0.0
                if wait > 0:  # waking on time matters for a lone chunk only
                    self._priority.set(lone)
                if wait > spin:
                    self._cond.wait(wait - spin)
                    continue
                break
        if wait > 0:
            _spin_until(chunk.due)
        return True


def send_vectored(sock: socket.socket, buffers: list[bytes]) -> None:
    """Send every buffer in order with as few system calls as possible (sendmsg, no copy)."""
    views = [memoryview(buffer) for buffer in buffers]
    while views:
        sent = sock.sendmsg(views[:_IOV_MAX])
        while sent and views:
            if sent >= len(views[0]):
                sent -= len(views[0])
                views.pop(0)
            else:
                views[0] = views[0][sent:]
                sent = 0


def _spin_until(deadline: float) -> None:
    """Yield the GIL while more than the last 150 µs remain, then spin without yielding (a
    yield on a busy machine can cost a whole time slice)."""
    while (left := deadline - time.monotonic()) > 0:
        if left > _TIGHT:
            time.sleep(0)

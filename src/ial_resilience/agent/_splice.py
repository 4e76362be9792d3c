"""One direction of one connection: a pump from a source socket to a destination socket.

With no toxic on its direction, the pump moves bytes with ``os.splice`` (socket → pipe →
socket): zero-copy, and the GIL is released inside the system call, so an idle link costs
close to nothing. When toxics are active the pump reads into userspace, stamps each chunk
with its arrival time, runs the stages and hands the result to a :class:`Writer` that sends
each chunk at its due time. Switching back to splice waits until the writer has sent
everything, so no byte is lost or reordered across mode changes.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Protocol

from ial_resilience.agent._http_frame import RequestFramer
from ial_resilience.agent._link_pipes import HeldPipe, PipePool
from ial_resilience.agent._link_sock import PIPE_SIZE, shutdown_quietly, spawn
from ial_resilience.agent._link_writer import Writer
from ial_resilience.faults.toxics._spec import Direction
from ial_resilience.faults.toxics._stage import Chunk, Stage

RECV_SIZE = 256 * 1024
_log = logging.getLogger(__name__)


class PumpHost(Protocol):
    """What a pump needs from its connection."""

    generation: int
    ended: threading.Event

    def stages(self, flow: Direction) -> tuple[Stage, ...]: ...

    def close_delay(self, flow: Direction) -> float: ...

    def failed(self, exc: OSError) -> None: ...


class Pump:
    """Relays ``src`` → ``dst`` until end of stream or error; run() is the thread body."""

    def __init__(
        self,
        host: PumpHost,
        src: socket.socket,
        dst: socket.socket,
        flow: Direction,
        framer: RequestFramer | None = None,
    ) -> None:
        self.bytes = 0
        self._host = host
        self._src, self._dst = src, dst
        self._src_fd, self._dst_fd = src.fileno(), dst.fileno()
        self._flow = flow
        self._framer = framer
        self._generation = -1
        self._stages: tuple[Stage, ...] = ()
        self._pool = PipePool()
        self._pipe: tuple[int, int] | None = None  # splice mode's pipe (from the pool)
        self._writer: Writer | None = None
        self._writer_thread: threading.Thread | None = None
        self._wake = threading.Event()  # ends a backpressure wait early

    def run(self) -> None:
        clean = False
        try:
            self._relay()
            clean = True
        except OSError as exc:
            self._host.failed(exc)
        except Exception as exc:  # a faulty stage must not kill the agent: reset, log, go on
            _log.exception("link pump failed; resetting the connection")
            self._host.failed(OSError(str(exc)))
        finally:
            self._wind_down(clean)

    def flush(self) -> None:
        """A toxic was removed: whatever the writer holds may leave now."""
        self._wake.set()
        if self._writer is not None:
            self._writer.flush()

    def stop(self) -> None:
        self._wake.set()
        if self._writer is not None:
            self._writer.close()

    # modes -------------------------------------------------------------------------------
    def _relay(self) -> None:
        while True:
            if self._userspace():
                if not self._step_userspace():
                    return
            elif not self._step_splice():
                return

    def _current_stages(self) -> tuple[Stage, ...]:
        generation = self._host.generation
        if generation != self._generation:
            self._generation = generation
            self._stages = self._host.stages(self._flow)
        return self._stages

    def _userspace(self) -> bool:
        if self._current_stages() or self._framer is not None:
            return True
        return self._writer is not None and not self._writer.idle()

    def _opaque(self) -> bool:
        """True when no active stage needs to see the bytes (they may stay in the kernel)."""
        if self._framer is not None or not self._pool.has_room():
            return False
        return not any(stage.needs_bytes for stage in self._current_stages())

    def _step_splice(self) -> bool:
        if self._pipe is None:
            self._pipe = self._pool.take()
        read_fd, write_fd = self._pipe
        size = os.splice(self._src_fd, write_fd, PIPE_SIZE)
        if size == 0:
            self._finish()
            return False
        if self._userspace():
            if self._opaque():  # hand the filled pipe itself to the pipeline
                held, self._pipe = HeldPipe(self._pool, self._pipe, size), None
                self._ingest_held(held)
            else:
                self._ingest(_read_exactly(read_fd, size))
            return True
        while size:
            moved = os.splice(read_fd, self._dst_fd, size)
            size -= moved
            self.bytes += moved
        return True

    def _step_userspace(self) -> bool:
        if self._opaque():
            held = self._pool.fill(self._src_fd)
            if held is None:
                self._finish()
                return False
            self._ingest_held(held)
            return True
        data = self._src.recv(RECV_SIZE)
        if not data:
            self._finish()
            return False
        self._ingest(data)
        return True

    # userspace path -----------------------------------------------------------------------
    def _ingest(self, data: bytes) -> None:
        now = time.monotonic()
        chunk = Chunk(data, now, now)
        chunks = self._framer.feed(chunk) if self._framer is not None else [chunk]
        self._forward(chunks, now)

    def _ingest_held(self, held: HeldPipe) -> None:
        now = time.monotonic()
        self._forward([Chunk(b"", now, now, held=held)], now)

    def _forward(self, chunks: list[Chunk], now: float) -> None:
        stages = self._current_stages()
        if any(stage.needs_bytes for stage in stages):  # the chain changed since the read
            for chunk in chunks:
                chunk.materialize()
        for stage in stages:
            chunks = [out for chunk in chunks for out in stage.process(chunk, now)]
        if not stages and (self._writer is None or self._writer.idle()):
            for chunk in chunks:
                if chunk.held is not None:
                    chunk.held.send_to(self._dst_fd)
                else:
                    self._dst.sendall(chunk.data)
                self.bytes += chunk.size
            return
        self._writer_started().put(chunks)
        hold = max(stage.hold(now) for stage in stages) if stages else 0.0
        if hold > 0:
            self._wake.wait(hold)
            self._wake.clear()

    def _writer_started(self) -> Writer:
        if self._writer is None:
            self._writer = Writer(self._dst, self._count, self._send_eof, self._host.failed)
            self._writer_thread = spawn(self._writer.run, f"link-writer-{self._flow.value}")
        return self._writer

    def _count(self, size: int) -> None:
        self.bytes += size

    # end of stream ------------------------------------------------------------------------
    def _finish(self) -> None:
        now = time.monotonic()
        if self._framer is not None:
            self._forward(self._framer.flush(now), now)
        delay = self._host.close_delay(self._flow)
        if self._writer is not None:
            self._writer.put_eof(time.monotonic() + delay)
            return
        if delay > 0 and self._host.ended.wait(delay):
            return
        self._send_eof()

    def _send_eof(self) -> None:
        shutdown_quietly(self._dst, socket.SHUT_WR)

    def _wind_down(self, clean: bool) -> None:
        if self._writer is not None and self._writer_thread is not None:
            if not clean:
                self._writer.close()
            self._writer_thread.join()
        self._pool.close()
        self._pipe = None


def _read_exactly(fd: int, size: int) -> bytes:
    parts = []
    while size:
        part = os.read(fd, size)
        parts.append(part)
        size -= len(part)
    return b"".join(parts)

"""The stage model shared by every toxic (after Toxiproxy).

Each direction of a connection is a pipeline: bytes read from one socket become :class:`Chunk`
values stamped with their arrival time, pass through one :class:`Stage` per active toxic, and
are written to the other socket once their ``due`` time has come. A stage may delay a chunk
(raise ``due``), split it, drop it, or act on the connection through :class:`Control`. Stages
hold no bytes between calls, so removing one loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable

    from ial_resilience.faults.toxics._evidence import Evidence


class RequestFate:
    """What became of one framed request, shared by every stage that sees it."""

    __slots__ = ("answered_by_toxic",)

    def __init__(self) -> None:
        self.answered_by_toxic = False  # a toxic answered it; the server never sees it


@dataclass(frozen=True, slots=True)
class HttpRequestHead:
    """The request line of one HTTP/1.1 request, as framed by an HTTP-aware link."""

    method: str
    path: str
    fate: RequestFate = field(default_factory=RequestFate, compare=False, repr=False)


class HeldBytes(Protocol):
    """Bytes kept in the kernel (a pipe) instead of userspace while a chunk waits."""

    size: int

    def send_to(self, dst_fd: int) -> None:
        """Move the bytes to a socket without copying them through userspace."""

    def take_bytes(self) -> bytes:
        """Read the bytes out (a stage that needs to see them); the holder is released."""

    def discard(self) -> None:
        """Drop the bytes and release the holder."""


@dataclass(slots=True)
class Chunk:
    """Bytes in flight: when they arrived (monotonic s) and when they may leave.

    ``held`` is set instead of ``data`` when the bytes stay in a kernel pipe (zero-copy):
    only stages whose ``needs_bytes`` is False ever see such a chunk.
    """

    data: bytes
    arrival: float
    due: float
    request_id: int = -1  # HTTP links: the request these bytes belong to (-1: none)
    request: HttpRequestHead | None = None  # set on the first chunk of a request only
    measured_by: list[Evidence] = field(default_factory=list)  # records delay actually added
    held: HeldBytes | None = None

    @property
    def size(self) -> int:
        return self.held.size if self.held is not None else len(self.data)

    def materialize(self) -> None:
        """Bring held bytes into ``data`` (for a stage that reads or cuts them)."""
        if self.held is not None:
            self.data, self.held = self.held.take_bytes(), None

    def discard(self) -> None:
        """The chunk is dropped: release what holds its bytes."""
        if self.held is not None:
            self.held.discard()
            self.held = None

    def split(self, data: bytes, due: float) -> Chunk:
        """A chunk carrying part of this one's bytes, with the same arrival and request."""
        return Chunk(data, self.arrival, due, self.request_id, None, list(self.measured_by))


class Control(Protocol):
    """What a toxic may ask of the connection it affects."""

    def reset(self) -> None:
        """Reset both sides (RST), at once."""

    def close(self) -> None:
        """Close both sides cleanly (FIN)."""

    def reply(self, data: bytes) -> None:
        """Send bytes to the client as if the server had sent them (HTTP links)."""

    def after(self, delay: float, action: Callable[[], None]) -> None:
        """Run ``action`` after ``delay`` seconds unless the connection ended first."""


class Stage:
    """A toxic's work on one direction of one connection. The default forwards unchanged.

    ``needs_bytes`` False means the stage only looks at sizes and times, so the pipeline may
    keep the bytes in the kernel (zero-copy) while the stage delays or drops chunks.
    """

    needs_bytes: ClassVar[bool] = True

    def process(self, chunk: Chunk, now: float) -> list[Chunk]:
        return [chunk]

    def hold(self, now: float) -> float:
        """Seconds the reader should wait before reading more (backpressure); 0 = none."""
        return 0.0

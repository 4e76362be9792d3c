"""The stage model shared by every toxic (after Toxiproxy).

Each direction of a connection is a pipeline: bytes read from one socket become :class:`Chunk`
values stamped with their arrival time, pass through one :class:`Stage` per active toxic, and
are written to the other socket once their ``due`` time has come. A stage may delay a chunk
(raise ``due``), split it, drop it, or act on the connection through :class:`Control`. Stages
hold no bytes between calls, so removing one loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable

    from ial_resilience.faults.toxics._evidence import Evidence


@dataclass(frozen=True, slots=True)
class HttpRequestHead:
    """The request line of one HTTP/1.1 request, as framed by an HTTP-aware link."""

    method: str
    path: str


@dataclass(slots=True)
class Chunk:
    """Bytes in flight: when they arrived (monotonic s) and when they may leave."""

    data: bytes
    arrival: float
    due: float
    request_id: int = -1  # HTTP links: the request these bytes belong to (-1: none)
    request: HttpRequestHead | None = None  # set on the first chunk of a request only
    measured_by: list[Evidence] = field(default_factory=list)  # records delay actually added

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
    """A toxic's work on one direction of one connection. The default forwards unchanged."""

    def process(self, chunk: Chunk, now: float) -> list[Chunk]:
        return [chunk]

    def hold(self, now: float) -> float:
        """Seconds the reader should wait before reading more (backpressure); 0 = none."""
        return 0.0

"""``bandwidth``: limit a direction to ``rate_kbps`` kilobytes (1000 bytes) per second."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from ial_resilience.faults.toxics._evidence import Evidence
from ial_resilience.faults.toxics._kind import ToxicKind
from ial_resilience.faults.toxics._spec import Attr, Direction
from ial_resilience.faults.toxics._stage import Chunk, Control, Stage

_SLICE_SECONDS = 0.02  # chunks are cut so each piece takes about this long at the rate
_BACKLOG_SECONDS = 0.25  # beyond this much queued transfer time the reader stops reading


class BandwidthStage(Stage):
    def __init__(self, bytes_per_second: float, evidence: Evidence) -> None:
        self._rate = bytes_per_second
        self._slice = max(1, int(bytes_per_second * _SLICE_SECONDS))
        self._free_at = 0.0  # when the emulated wire is free again
        self._evidence = evidence

    def process(self, chunk: Chunk, now: float) -> list[Chunk]:
        out: list[Chunk] = []
        data = chunk.data
        for start in range(0, len(data), self._slice):
            piece = data[start : start + self._slice]
            begin = max(self._free_at, chunk.due, now)
            self._free_at = begin + len(piece) / self._rate
            out.append(chunk.split(piece, self._free_at))
        if out:
            out[0].request = chunk.request
        self._evidence.add(chunks=len(out))
        return out

    def hold(self, now: float) -> float:
        """Stop reading while more than a quarter second of transfer is queued, so the sender
        feels the limit through TCP backpressure instead of the proxy buffering for it."""
        return max(0.0, self._free_at - now - _BACKLOG_SECONDS)


class Bandwidth(ToxicKind):
    name = "bandwidth"
    attributes: ClassVar[Mapping[str, Attr]] = {
        "rate_kbps": Attr("a number of kilobytes per second > 0", minimum=0, above_minimum=True),
    }

    def stage(self, evidence: Evidence, control: Control, flow: Direction) -> Stage:
        return BandwidthStage(self.number("rate_kbps") * 1000.0, evidence)

"""``slicer``: cut chunks into pieces of ``average_size`` ± ``size_variation`` bytes, with
``delay_us`` microseconds between pieces (exercises parsers that assume whole messages)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import ClassVar

from ial_resilience.faults.toxics._evidence import Evidence
from ial_resilience.faults.toxics._kind import ToxicKind
from ial_resilience.faults.toxics._spec import Attr, Direction
from ial_resilience.faults.toxics._stage import Chunk, Control, Stage


class SlicerStage(Stage):
    def __init__(self, average: int, variation: int, delay: float, evidence: Evidence) -> None:
        self._average = average
        self._variation = min(variation, average - 1)
        self._delay = delay
        self._evidence = evidence
        self._rng = random.Random()

    def _size(self) -> int:
        if not self._variation:
            return self._average
        return self._average + self._rng.randint(-self._variation, self._variation)

    def process(self, chunk: Chunk, now: float) -> list[Chunk]:
        out: list[Chunk] = []
        data, start, due = chunk.data, 0, max(chunk.due, now)
        while start < len(data):
            size = self._size()
            out.append(chunk.split(data[start : start + size], due))
            start += size
            due += self._delay
        if out:
            out[0].request = chunk.request
        if len(out) > 1:
            self._evidence.add(chunks=len(out))
        return out


class Slicer(ToxicKind):
    name = "slicer"
    attributes: ClassVar[Mapping[str, Attr]] = {
        "average_size": Attr("a number of bytes > 0", minimum=0, above_minimum=True),
        "size_variation": Attr("a number of bytes >= 0", default=0.0, minimum=0),
        "delay_us": Attr("a number of microseconds >= 0", default=0.0, minimum=0),
    }

    def stage(self, evidence: Evidence, control: Control, flow: Direction) -> Stage:
        average = max(1, int(self.number("average_size")))
        variation = int(self.number("size_variation"))
        return SlicerStage(average, variation, self.number("delay_us") / 1e6, evidence)

"""``latency``: delay every chunk by ``latency_ms`` ± ``jitter_ms``, relative to its arrival.

Delaying relative to arrival (not to when the chunk got its turn) keeps the stream pipelined:
a bulk transfer is shifted in time, not slowed down.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import ClassVar

from ial_resilience.faults.toxics._evidence import Evidence
from ial_resilience.faults.toxics._kind import ToxicKind
from ial_resilience.faults.toxics._spec import Attr, Direction
from ial_resilience.faults.toxics._stage import Chunk, Control, Stage


class LatencyStage(Stage):
    needs_bytes = False

    def __init__(self, latency: float, jitter: float, evidence: Evidence) -> None:
        self._latency = latency
        self._jitter = jitter
        self._evidence = evidence
        self._rng = random.Random()

    def process(self, chunk: Chunk, now: float) -> list[Chunk]:
        delay = self._latency
        if self._jitter:
            delay = max(0.0, delay + self._rng.uniform(-self._jitter, self._jitter))
        chunk.due = max(chunk.due, chunk.arrival + delay)
        chunk.measured_by.append(self._evidence)
        self._evidence.add(chunks=1)
        return [chunk]


class Latency(ToxicKind):
    name = "latency"
    attributes: ClassVar[Mapping[str, Attr]] = {
        "latency_ms": Attr("a number of milliseconds >= 0", minimum=0),
        "jitter_ms": Attr("a number of milliseconds >= 0", default=0.0, minimum=0),
    }

    def stage(self, evidence: Evidence, control: Control, flow: Direction) -> Stage:
        latency = self.number("latency_ms") / 1000.0
        return LatencyStage(latency, self.number("jitter_ms") / 1000.0, evidence)

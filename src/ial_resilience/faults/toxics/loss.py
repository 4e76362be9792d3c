"""``loss``: drop each chunk with ``probability``; the stream is cut like a lossy link would
cut it (TCP above the proxy cannot retransmit what the proxy dropped)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import ClassVar

from ial_resilience.faults.toxics._evidence import Evidence
from ial_resilience.faults.toxics._kind import ToxicKind
from ial_resilience.faults.toxics._spec import Attr, Direction
from ial_resilience.faults.toxics._stage import Chunk, Control, Stage


class LossStage(Stage):
    needs_bytes = False

    def __init__(self, probability: float, evidence: Evidence) -> None:
        self._probability = probability
        self._evidence = evidence
        self._rng = random.Random()

    def process(self, chunk: Chunk, now: float) -> list[Chunk]:
        if self._rng.random() < self._probability:
            self._evidence.add(chunks=1, bytes_dropped=chunk.size)
            chunk.discard()
            return []
        return [chunk]


class Loss(ToxicKind):
    name = "loss"
    attributes: ClassVar[Mapping[str, Attr]] = {
        "probability": Attr("a probability in [0, 1]", minimum=0, maximum=1)
    }

    def stage(self, evidence: Evidence, control: Control, flow: Direction) -> Stage:
        return LossStage(self.number("probability"), evidence)

"""``timeout``: blackhole the affected directions (bytes are read and dropped); close the
connection ``timeout_ms`` after it meets the toxic, or never when ``timeout_ms`` is 0."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from ial_resilience.faults.toxics._evidence import Evidence
from ial_resilience.faults.toxics._kind import ToxicKind
from ial_resilience.faults.toxics._spec import Attr, Direction
from ial_resilience.faults.toxics._stage import Chunk, Control, Stage


class BlackholeStage(Stage):
    needs_bytes = False

    def __init__(self, evidence: Evidence) -> None:
        self._evidence = evidence

    def process(self, chunk: Chunk, now: float) -> list[Chunk]:
        self._evidence.add(chunks=1, bytes_dropped=chunk.size)
        chunk.discard()
        return []


def _close(evidence: Evidence, control: Control) -> None:
    evidence.add(connections_closed=1)
    control.close()


class Timeout(ToxicKind):
    name = "timeout"
    attributes: ClassVar[Mapping[str, Attr]] = {
        "timeout_ms": Attr("a number of milliseconds >= 0", default=0.0, minimum=0)
    }

    def stage(self, evidence: Evidence, control: Control, flow: Direction) -> Stage:
        return BlackholeStage(evidence)

    def on_meet(self, evidence: Evidence, control: Control) -> None:
        delay = self.number("timeout_ms") / 1000.0
        if delay > 0:
            control.after(delay, lambda: _close(evidence, control))

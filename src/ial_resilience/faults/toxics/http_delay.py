"""``http_delay``: hold matching requests for ``delay_ms`` before forwarding them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from ial_resilience.faults.toxics._evidence import Evidence
from ial_resilience.faults.toxics._http_match import MATCH_ATTRIBUTES, RequestMatcher
from ial_resilience.faults.toxics._kind import ToxicKind
from ial_resilience.faults.toxics._spec import Attr, Direction
from ial_resilience.faults.toxics._stage import Chunk, Control, Stage


class DelayStage(Stage):
    def __init__(self, matcher: RequestMatcher, delay: float, evidence: Evidence) -> None:
        self._matcher = matcher
        self._delay = delay
        self._evidence = evidence

    def process(self, chunk: Chunk, now: float) -> list[Chunk]:
        if chunk.request is not None and self._matcher.hits(chunk.request):
            chunk.due = max(chunk.due, chunk.arrival + self._delay)
            chunk.measured_by.append(self._evidence)
            self._evidence.add(requests_delayed=1, chunks=1)
        return [chunk]


class HttpDelay(ToxicKind):
    name = "http_delay"
    http_only = True
    attributes: ClassVar[Mapping[str, Attr]] = {
        "delay_ms": Attr("a number of milliseconds >= 0", minimum=0),
        **MATCH_ATTRIBUTES,
    }

    def stage(self, evidence: Evidence, control: Control, flow: Direction) -> Stage | None:
        if flow is not Direction.UPSTREAM:
            return None
        matcher = RequestMatcher(self.text("method"), self.text("path"), self.number("percentage"))
        return DelayStage(matcher, self.number("delay_ms") / 1000.0, evidence)

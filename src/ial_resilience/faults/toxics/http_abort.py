"""``http_abort``: answer matching requests with ``status`` and never forward them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from ial_resilience.faults.toxics._evidence import Evidence
from ial_resilience.faults.toxics._http_match import (
    MATCH_ATTRIBUTES,
    RequestMatcher,
    status_response,
)
from ial_resilience.faults.toxics._kind import ToxicKind
from ial_resilience.faults.toxics._spec import Attr, Direction
from ial_resilience.faults.toxics._stage import Chunk, Control, Stage


class AbortStage(Stage):
    def __init__(self, matcher: RequestMatcher, status: int, evidence: Evidence, control: Control):
        self._matcher = matcher
        self._response = status_response(status)
        self._evidence = evidence
        self._control = control
        self._aborted: int | None = None  # the request whose bytes are being swallowed

    def process(self, chunk: Chunk, now: float) -> list[Chunk]:
        if chunk.request is not None and self._matcher.hits(chunk.request):
            self._aborted = chunk.request_id
            self._evidence.add(requests_aborted=1, chunks=1)
            self._control.reply(self._response)
            return []
        if chunk.request_id >= 0 and chunk.request_id == self._aborted:
            return []
        return [chunk]


class HttpAbort(ToxicKind):
    name = "http_abort"
    http_only = True
    attributes: ClassVar[Mapping[str, Attr]] = {
        "status": Attr("an HTTP status code in [100, 599]", minimum=100, maximum=599),
        **MATCH_ATTRIBUTES,
    }

    def stage(self, evidence: Evidence, control: Control, flow: Direction) -> Stage | None:
        if flow is not Direction.UPSTREAM:
            return None
        matcher = RequestMatcher(self.text("method"), self.text("path"), self.number("percentage"))
        return AbortStage(matcher, int(self.number("status")), evidence, control)

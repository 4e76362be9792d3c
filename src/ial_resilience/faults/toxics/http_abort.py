"""``http_abort``: answer matching requests with ``status`` and never forward them.

On a pipelined connection the answer takes the request's turn: it reaches the client after
the server's answers to the requests sent before it (see :mod:`.http_order`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ial_resilience.faults.toxics._evidence import Evidence
from ial_resilience.faults.toxics._http_match import (
    MATCH_ATTRIBUTES,
    RequestMatcher,
    status_response,
)
from ial_resilience.faults.toxics._kind import ToxicKind
from ial_resilience.faults.toxics._spec import Attr, Direction
from ial_resilience.faults.toxics._stage import Chunk, Control, Stage
from ial_resilience.faults.toxics.http_order import AnswerOrder, AnswerOrders, AnswerStage

RECHECK_S = 0.02  # a waiting answer checks again this soon whether its turn has come
UNHEARD_S = 1.0  # then gives up waiting if no server byte reached the answer stage by then


class AbortStage(Stage):
    """Answers a matching request itself and swallows every byte of it (head and body).

    Bytes the link could not frame (request id -1) right after an aborted request cannot go
    on: the server never saw that request's head, so they would reach it as garbage. The
    connection is closed instead (counted in ``connections_closed``).
    """

    def __init__(
        self,
        matcher: RequestMatcher,
        status: int,
        evidence: Evidence,
        control: Control,
        order: AnswerOrder,
    ) -> None:
        self._matcher = matcher
        self._response = status_response(status)
        self._evidence = evidence
        self._control = control
        self._order = order
        self._aborted: int | None = None  # the request whose bytes are being swallowed
        self._latest = -1  # the last request whose bytes went by
        self._closed = False

    def process(self, chunk: Chunk, now: float) -> list[Chunk]:
        if chunk.request_id > self._latest:
            self._latest = chunk.request_id
            if self._met_request(chunk):
                return []
        if chunk.request_id >= 0:
            return [] if chunk.request_id == self._aborted else [chunk]
        if self._aborted is not None and self._aborted == self._latest:
            self._close()
            return []
        return [chunk]

    def _met_request(self, chunk: Chunk) -> bool:
        """A new request begins: abort it (True) or let it go on (False)."""
        request = chunk.request
        if request is None or not self._matcher.hits(request):
            self._order.forwarded(request)
            return False
        request.fate.answered_by_toxic = True
        self._aborted = chunk.request_id
        self._evidence.add(requests_aborted=1, chunks=1)
        ready = self._order.inject(self._response)
        self._send(ready)
        if not ready:  # it waits its turn; if another toxic settles that turn, send it then
            self._control.after(RECHECK_S, lambda: self._send(self._order.ready()))
            self._control.after(UNHEARD_S, lambda: self._send(self._order.release_if_unheard()))
        return True

    def _send(self, answers: list[bytes]) -> None:
        for answer in answers:
            self._control.reply(answer)

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            self._evidence.add(connections_closed=1)
            self._control.close()


class HttpAbort(ToxicKind):
    name = "http_abort"
    http_only = True
    attributes: ClassVar[Mapping[str, Attr]] = {
        "status": Attr("an HTTP status code in [100, 599]", minimum=100, maximum=599),
        **MATCH_ATTRIBUTES,
    }

    def __init__(self, values: Mapping[str, Any]) -> None:
        super().__init__(values)
        self._orders = AnswerOrders()

    def stage(self, evidence: Evidence, control: Control, flow: Direction) -> Stage | None:
        order = self._orders.of(control)
        if flow is Direction.DOWNSTREAM:
            order.track()
            return AnswerStage(order)
        matcher = RequestMatcher(self.text("method"), self.text("path"), self.number("percentage"))
        return AbortStage(matcher, int(self.number("status")), evidence, control, order)

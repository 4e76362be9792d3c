"""Answers in request order on one connection, for ``http_abort`` (helpers, not a toxic).

HTTP/1.1 answers requests in the order they were sent. When a client pipelines (sends request
2 before the answer to request 1 came back) and ``http_abort`` answers request 2 itself, that
answer must reach the client after the server's answer to request 1, never before it and
never inside it. :class:`AnswerOrder` keeps, per connection, one slot per request that went
by — owed by the server, or answered by the toxic with its bytes — and :class:`AnswerStage`,
on the server → client direction, follows the server's responses and slips each injected
answer in where its turn comes. A request another toxic answered (its
:class:`~ial_resilience.faults.toxics._stage.RequestFate`) is owed by nobody.

The toxic's two stages of one connection share an :class:`AnswerOrder` through the
connection's ``Control`` (one per connection and toxic). When the responses cannot be
followed (see :mod:`.http_response`), ordering stops for that connection: answers waiting
are dropped (the server's stream can no longer carry them in order) and later ones are sent
at once, as without pipelining. An answer that waits while the server → client stage has not
seen a single byte after :data:`~.http_abort.UNHEARD_S` is sent anyway and ordering stops:
that stage may not be in the pipeline at all (a toxic whose direction is ``upstream``).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import deque
from dataclasses import dataclass

from ial_resilience.faults.toxics._stage import Chunk, Control, HttpRequestHead, RequestFate, Stage
from ial_resilience.faults.toxics.http_response import ResponseFramer, ResponseFramingError

MAX_WAITING = 1024  # requests awaiting an answer on one connection before ordering gives up
_log = logging.getLogger("ialr.agent")


@dataclass(frozen=True, slots=True)
class _Slot:
    method: str | None  # the request's method (None: its head was not seen)
    fate: RequestFate | None = None
    answer: bytes | None = None  # the toxic's own answer; None: the server's

    def owed_by_server(self) -> bool:
        return self.answer is None and not (self.fate and self.fate.answered_by_toxic)


class AnswerOrder:
    """The answers one connection still owes its client, in request order (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: deque[_Slot] = deque()
        self._tracking = False
        self._heard = False  # the AnswerStage has seen server bytes (it is in the pipeline)

    def track(self) -> None:
        """Responses are followed (an :class:`AnswerStage` sees the server's bytes)."""
        with self._lock:
            self._tracking = True

    def forwarded(self, request: HttpRequestHead | None) -> None:
        """A request went on towards the server (which answers it unless a toxic does)."""
        with self._lock:
            if not self._tracking:
                return
            method, fate = (request.method, request.fate) if request else (None, None)
            self._slots.append(_Slot(method, fate))
            if len(self._slots) > MAX_WAITING:
                self._give_up(f"more than {MAX_WAITING} requests awaiting answers")

    def inject(self, answer: bytes) -> list[bytes]:
        """The toxic answers a request: the answers to send now (in order); empty when this
        one waits for the server's answers to earlier requests."""
        with self._lock:
            if not self._tracking:
                return [answer]
            self._slots.append(_Slot(None, None, answer))
            return self._ready()

    def ready(self) -> list[bytes]:
        """Waiting answers no server answer stands before any more (another toxic answered
        the requests they waited for)."""
        with self._lock:
            return self._ready()

    def next_method(self) -> str | None:
        with self._lock:
            owed = next((slot for slot in self._slots if slot.owed_by_server()), None)
            return owed.method if owed else None

    def answered(self) -> list[bytes]:
        """The server finished an answer: the toxic's answers that were waiting for it."""
        with self._lock:
            ready = self._ready()
            if self._slots:
                self._slots.popleft()  # the server's answer (_ready stops at the first owed)
            return ready + self._ready()

    def heard(self) -> None:
        """The AnswerStage sees the server's bytes: it really is in the connection's pipeline."""
        with self._lock:
            self._heard = True

    def release_if_unheard(self) -> list[bytes]:
        """No server byte reached the AnswerStage yet: it may not be in the pipeline at all
        (a toxic whose direction leaves out server → client bytes). Stop ordering and give
        back the waiting answers, to be sent at once, rather than hold them forever."""
        with self._lock:
            if self._heard or not self._tracking:
                return []
            waiting = [slot.answer for slot in self._slots if slot.answer is not None]
            self._give_up("no server bytes seen by the answer stage")
            return waiting

    def stop(self, reason: str) -> None:
        """Responses cannot be followed any more: drop waiting answers, answer at once later."""
        with self._lock:
            self._give_up(reason)

    def _ready(self) -> list[bytes]:
        ready: list[bytes] = []
        while self._slots and not self._slots[0].owed_by_server():
            answer = self._slots.popleft().answer
            if answer is not None:
                ready.append(answer)
        return ready

    def _give_up(self, reason: str) -> None:
        dropped = sum(1 for slot in self._slots if slot.answer is not None)
        self._tracking = False
        self._slots.clear()
        _log.debug("http_abort: answers no longer ordered (%s); %d dropped", reason, dropped)


class AnswerStage(Stage):
    """Server → client stage: puts waiting injected answers where their turn comes."""

    def __init__(self, order: AnswerOrder) -> None:
        self._order = order
        self._framer = ResponseFramer(self)
        self._following = True
        self._heard = False
        self._turns: list[tuple[int, list[bytes]]] = []  # (offset, answers) of this chunk

    def process(self, chunk: Chunk, now: float) -> list[Chunk]:
        if not self._following:
            return [chunk]
        if not self._heard:
            self._heard = True
            self._order.heard()
        self._turns = []
        try:
            self._framer.feed(chunk.data)
        except ResponseFramingError as exc:
            self._following = False
            self._order.stop(str(exc))
        return _weave(chunk, self._turns)

    # ResponseEvents -------------------------------------------------------------------
    def next_method(self) -> str | None:
        return self._order.next_method()

    def started(self, offset: int) -> None:
        self._turn(offset, self._order.ready())

    def finished(self, offset: int) -> None:
        self._turn(offset, self._order.answered())

    def _turn(self, offset: int, answers: list[bytes]) -> None:
        if answers:
            self._turns.append((offset, answers))


def _weave(chunk: Chunk, turns: list[tuple[int, list[bytes]]]) -> list[Chunk]:
    """``chunk`` cut after each response end, with the answers due there in between."""
    if not turns:
        return [chunk]
    out: list[Chunk] = []
    start = 0
    for end, answers in turns:
        if end > start:
            out.append(chunk.split(chunk.data[start:end], chunk.due))
        out += [Chunk(answer, chunk.arrival, chunk.due) for answer in answers]
        start = end
    if start < len(chunk.data):
        out.append(chunk.split(chunk.data[start:], chunk.due))
    return out


class AnswerOrders:
    """One :class:`AnswerOrder` per connection of a toxic, found by the connection's Control."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._orders: weakref.WeakKeyDictionary[Control, AnswerOrder] = weakref.WeakKeyDictionary()

    def of(self, control: Control) -> AnswerOrder:
        with self._lock:
            try:
                order = self._orders.get(control)
                if order is None:
                    order = self._orders[control] = AnswerOrder()
            except TypeError:  # a Control that cannot be weakly referenced: not shared
                order = AnswerOrder()
            return order

"""One proxied connection: dial, two pumps, the toxics it met, reset and close."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from ial_resilience.agent._http_frame import RequestFramer, Unframed
from ial_resilience.agent._link_sock import abort, shutdown_quietly, spawn, tune
from ial_resilience.agent._splice import Pump
from ial_resilience.faults.toxics._runtime import ActiveToxic
from ial_resilience.faults.toxics._spec import Direction
from ial_resilience.faults.toxics._stage import Stage

_FLOWS = (Direction.UPSTREAM, Direction.DOWNSTREAM)


class ConnState(Enum):
    OPEN = "open"
    CLOSING = "closing"
    RESET = "reset"
    ENDED = "ended"


class LinkCore(Protocol):
    """What a connection needs from its link."""

    upstream: tuple[str, int]
    dial_timeout: float
    http: bool

    def attach(self, conn: Connection) -> None: ...

    def detach(self, conn: Connection) -> None: ...

    def count(self, *, resets: int = 0, dial_failures: int = 0) -> None: ...

    def count_unframed(self, reason: Unframed) -> None: ...


@dataclass
class _Met:
    """A toxic this connection met: whether the toxicity roll hit, and its stages."""

    toxic: ActiveToxic
    hit: bool
    stages: dict[Direction, Stage] = field(default_factory=dict)


class Connection:
    """Client socket accepted by a link; run() is the connection's thread body."""

    def __init__(self, link: LinkCore, client: socket.socket) -> None:
        self.client = client
        self.upstream: socket.socket | None = None
        self.generation = 0
        self.ended = threading.Event()
        self.thread: threading.Thread | None = None
        self._link = link
        self._lock = threading.Lock()
        self._state = ConnState.OPEN
        self._met: dict[str, _Met] = {}
        self._chains: dict[Direction, tuple[Stage, ...]] = {flow: () for flow in _FLOWS}
        self._timers: list[threading.Timer] = []
        self._pumps: list[Pump] = []

    # counters --------------------------------------------------------------------------
    @property
    def bytes_up(self) -> int:
        return self._pumps[0].bytes if self._pumps else 0

    @property
    def bytes_down(self) -> int:
        return self._pumps[1].bytes if len(self._pumps) > 1 else 0

    # lifecycle -------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._serve()
        finally:
            self._end()

    def _serve(self) -> None:
        self._link.attach(self)
        delay = self._open_delay()
        if self.ended.is_set() or (delay > 0 and self.ended.wait(delay)):
            return
        upstream = self._dial()
        if upstream is None:
            return
        tune(self.client)
        tune(upstream)
        framer = RequestFramer(self._link.count_unframed) if self._link.http else None
        up = Pump(self, self.client, upstream, Direction.UPSTREAM, framer)
        down = Pump(self, upstream, self.client, Direction.DOWNSTREAM)
        with self._lock:
            if self._state is not ConnState.OPEN:
                return
            self._pumps = [up, down]
        down_thread = spawn(down.run, "link-down")
        up.run()
        down_thread.join()

    def _dial(self) -> socket.socket | None:
        try:
            upstream = socket.create_connection(self._link.upstream, self._link.dial_timeout)
        except OSError:
            self._link.count(dial_failures=1)
            self.reset()
            return None
        upstream.settimeout(None)
        with self._lock:
            self.upstream = upstream
            state = self._state
        if state is not ConnState.OPEN:
            abort(upstream)
            return None
        return upstream

    def _end(self) -> None:
        with self._lock:
            if self._state is ConnState.OPEN:
                self._state = ConnState.ENDED
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()
        self.ended.set()
        for sock in (self.client, self.upstream):
            if sock is not None:
                sock.close()
        self._link.detach(self)

    # faults ----------------------------------------------------------------------------
    def reset(self) -> None:
        """RST both sides now and wake every thread of this connection."""
        with self._lock:
            if self._state in (ConnState.RESET, ConnState.ENDED):
                return
            self._state = ConnState.RESET
            sockets = [s for s in (self.client, self.upstream) if s is not None]
        self._link.count(resets=1)
        for sock in sockets:
            abort(sock)
        self._stop()

    def close(self) -> None:
        """Close both sides cleanly (FIN) and end the connection."""
        with self._lock:
            if self._state is not ConnState.OPEN:
                return
            self._state = ConnState.CLOSING
            sockets = [s for s in (self.client, self.upstream) if s is not None]
        for sock in sockets:
            shutdown_quietly(sock, socket.SHUT_RDWR)
        self._stop()

    def _stop(self) -> None:
        self.ended.set()
        for pump in self._pumps:
            pump.stop()

    def failed(self, exc: OSError) -> None:
        """A pump hit a socket error: the connection is broken, reset both sides."""
        if self._state is ConnState.OPEN:
            self.reset()

    # toxics ----------------------------------------------------------------------------
    def meet(self, toxic: ActiveToxic) -> None:
        """Roll the toxic's toxicity for this connection once and install its stages."""
        with self._lock:
            if self._state is not ConnState.OPEN or not toxic.active:
                return
            if toxic.spec.id in self._met:
                return
            met = _Met(toxic, toxic.roll())
            self._met[toxic.spec.id] = met
            if met.hit:
                control = ToxicControl(self, toxic)
                for flow in _FLOWS:
                    if not toxic.spec.direction.covers(flow):
                        continue  # a kind is asked only for the stages it will really get
                    stage = toxic.kind.stage(toxic.evidence, control, flow)
                    if stage is not None:
                        met.stages[flow] = stage
                self._rebuild()
        if met.hit:
            toxic.kind.on_meet(toxic.evidence, ToxicControl(self, toxic))

    def forget(self, toxic_id: str) -> None:
        """The toxic was removed: drop its stages; what the writers hold leaves now."""
        with self._lock:
            met = self._met.pop(toxic_id, None)
            if met is None or not met.hit:
                return
            self._rebuild()
            pumps = list(self._pumps)
        for pump in pumps:
            pump.flush()

    def _rebuild(self) -> None:
        for flow in _FLOWS:
            self._chains[flow] = tuple(
                met.stages[flow] for met in self._met.values() if flow in met.stages
            )
        self.generation += 1

    def stages(self, flow: Direction) -> tuple[Stage, ...]:
        with self._lock:
            return self._chains[flow]

    def _hits(self) -> list[ActiveToxic]:
        with self._lock:
            return [met.toxic for met in self._met.values() if met.hit and met.toxic.active]

    def _open_delay(self) -> float:
        delays = [(t.kind.open_delay(), t) for t in self._hits()]
        for delay, toxic in delays:
            if delay > 0:
                toxic.evidence.add(opens_delayed=1)
        return max((d for d, _ in delays), default=0.0)

    def close_delay(self, flow: Direction) -> float:
        delays = [(t.kind.close_delay(), t) for t in self._hits() if t.spec.direction.covers(flow)]
        for delay, toxic in delays:
            if delay > 0:
                toxic.evidence.add(closes_delayed=1)
        return max((d for d, _ in delays), default=0.0)

    def schedule(self, delay: float, action: Callable[[], None]) -> None:
        timer = threading.Timer(delay, action)
        timer.daemon = True
        with self._lock:
            if self._state is not ConnState.OPEN:
                return
            self._timers.append(timer)
        timer.start()

    def reply(self, data: bytes) -> None:
        self.client.sendall(data)


class ToxicControl:
    """The :class:`~ial_resilience.faults.toxics._stage.Control` one toxic gets on one
    connection: timed actions do nothing once the toxic is removed or the connection ended."""

    def __init__(self, conn: Connection, toxic: ActiveToxic) -> None:
        self._conn = conn
        self._toxic = toxic

    def reset(self) -> None:
        self._conn.reset()

    def close(self) -> None:
        self._conn.close()

    def reply(self, data: bytes) -> None:
        self._conn.reply(data)

    def after(self, delay: float, action: Callable[[], None]) -> None:
        def guarded() -> None:
            if self._toxic.active:
                action()

        self._conn.schedule(delay, guarded)

"""The load generator's timetable and request mix, with an injectable clock.

Open loop: request ``i`` is due at ``start + i / rate`` whatever happened to earlier requests.
The dispatcher sleeps until the next due time and then starts **every** request already due
(after a stall it catches up at once instead of silently skipping), so a slow response never
lowers the offered rate. Latency is measured from the due time (no coordinated omission); the
skew is how late the dispatcher started a request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ial_resilience.errors import InputError


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""
        ...

    def wall(self) -> float:
        """Unix seconds."""
        ...

    async def sleep_until(self, deadline: float) -> None: ...


class LoopClock:
    """The event loop's monotonic clock (what ``asyncio`` timers use)."""

    def __init__(self) -> None:
        self._offset = time.time() - time.monotonic()

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def wall(self) -> float:
        return self._offset + time.monotonic()

    async def sleep_until(self, deadline: float) -> None:
        delay = deadline - self.now()
        if delay > 0:
            await asyncio.sleep(delay)


class FakeClock:
    """A clock tests move by hand: ``sleep_until`` waits until ``advance`` passes the deadline."""

    def __init__(self, start: float = 1000.0, wall_offset: float = 1_700_000_000.0) -> None:
        self.t = start
        self.wall_offset = wall_offset
        self._waiters: list[tuple[float, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self.t

    def wall(self) -> float:
        return self.wall_offset + self.t

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self.t:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((deadline, future))
        await future

    async def advance(self, seconds: float, step: float = 0.001) -> None:
        """Move time forward in ``step`` increments, letting woken tasks run at each step."""
        target = self.t + seconds
        while self.t < target - 1e-12:
            self.t = min(target, self.t + step)
            for deadline, future in list(self._waiters):
                if deadline <= self.t + 1e-12 and not future.done():
                    future.set_result(None)
            self._waiters = [(d, f) for d, f in self._waiters if not f.done()]
            for _ in range(5):
                await asyncio.sleep(0)


@dataclass(frozen=True, slots=True)
class RequestKind:
    """One entry of the mix: ``POST /orders`` with weight 2."""

    method: str
    path: str
    weight: int = 1

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


DEFAULT_MIX = (RequestKind("GET", "/orders", 4), RequestKind("POST", "/orders", 1))


def parse_mix(text: str) -> tuple[RequestKind, ...]:
    """``"GET /orders=4,POST /orders=1"`` → kinds; ``InputError`` naming the bad entry."""
    kinds = []
    for raw in text.split(","):
        entry = raw.strip()
        spec, _, weight_text = entry.partition("=")
        method, _, path = spec.strip().partition(" ")
        weight = weight_text.strip() or "1"
        if method.upper() not in ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH") or not (
            path.startswith("/") and weight.isdigit() and int(weight) > 0
        ):
            raise InputError(
                f"request mix entry {entry!r} is not 'METHOD /path=weight'",
                hint='write --mix "GET /orders=4,POST /orders=1"',
            )
        kinds.append(RequestKind(method.upper(), path.strip(), int(weight)))
    if not kinds:
        raise InputError("the request mix is empty", hint='write --mix "GET /orders=1"')
    return tuple(kinds)


class MixCycle:
    """Smooth weighted round-robin: the mix is exact over every cycle, evenly interleaved."""

    def __init__(self, kinds: Sequence[RequestKind]) -> None:
        self.kinds = tuple(kinds)
        self._current = [0] * len(self.kinds)
        self._total = sum(k.weight for k in self.kinds)

    def next(self) -> RequestKind:
        best = 0
        for index, kind in enumerate(self.kinds):
            self._current[index] += kind.weight
            if self._current[index] > self._current[best]:
                best = index
        self._current[best] -= self._total
        return self.kinds[best]


@dataclass(frozen=True, slots=True)
class Timetable:
    start: float
    rate: float

    def due(self, index: int) -> float:
        return self.start + index / self.rate

    def due_count(self, now: float) -> int:
        """How many requests are due by ``now`` (indices ``0 … n-1``)."""
        if now < self.start:
            return 0
        return int((now - self.start) * self.rate + 1e-9) + 1

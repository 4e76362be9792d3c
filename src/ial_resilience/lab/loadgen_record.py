"""What the load generator records: one :class:`Outcome` per request, batched into the
telemetry store by a background thread, plus a rolling window for live statistics.

Store series (one point per request, timestamped with the request's **scheduled** send time):

- ``loadgen.request_ms`` {method, route, outcome (ok/error), status}: the latency from the
  scheduled send time (ms);
- ``loadgen.skew_ms`` {stat (p50/p99/max)}: send-time skew over each second (ms).

Availability = ok requests / all requests; ``status`` is the HTTP code, or ``timeout``,
``connect`` (refused/reset), ``protocol`` or ``saturated`` (the client's in-flight cap). The
recorder never raises into the data path: a failed store write is counted in ``dropped``.
"""

from __future__ import annotations

import collections
import math
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from ial_resilience.errors import StoreError
from ial_resilience.observability.store import Point, TelemetryStore

REQUEST_SERIES = "loadgen.request_ms"
SKEW_SERIES = "loadgen.skew_ms"


class RequestOutcome(StrEnum):
    OK = "ok"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One request: when it was due (unix s), how late it left, how long the user waited."""

    scheduled_wall: float
    skew_ms: float
    latency_ms: float
    method: str
    route: str
    status: str

    @property
    def ok(self) -> bool:
        return self.status.isdigit() and 200 <= int(self.status) < 400

    @property
    def outcome(self) -> RequestOutcome:
        return RequestOutcome.OK if self.ok else RequestOutcome.ERROR

    def point(self) -> Point:
        labels = {
            "method": self.method,
            "route": self.route,
            "outcome": self.outcome.value,
            "status": self.status,
        }
        return Point(REQUEST_SERIES, self.latency_ms, labels, self.scheduled_wall)


def nearest_rank(values: Sequence[float], quantile: float) -> float | None:
    """Nearest-rank percentile (``quantile`` in 0–100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(quantile / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


class BoundedSample:
    """Values for percentiles, bounded: all of them up to ``cap``; past it every other kept
    value is dropped and then one value in ``stride`` is kept (the stride doubles each time),
    so a run of any length stays evenly sampled in bounded memory. ``exact`` says whether
    percentiles are still over every value."""

    def __init__(self, cap: int = 1_000_000) -> None:
        self.cap = cap
        self.values: list[float] = []
        self.seen = 0
        self.stride = 1
        self.maximum: float | None = None

    @property
    def exact(self) -> bool:
        return self.stride == 1

    def add(self, value: float) -> None:
        self.seen += 1
        self.maximum = value if self.maximum is None else max(self.maximum, value)
        if (self.seen - 1) % self.stride:
            return
        self.values.append(value)
        if len(self.values) >= self.cap:
            self.values = self.values[::2]
            self.stride *= 2


class RollingWindow:
    """Outcomes completed in the last ``seconds`` (by completion time), for live figures.

    One second: short enough that a recovery shows within a second, long enough to hold
    dozens of requests at the game day's rate."""

    def __init__(self, seconds: float = 1.0) -> None:
        self.seconds = seconds
        self._items: collections.deque[tuple[float, bool, float]] = collections.deque()
        self._lock = threading.Lock()

    def add(self, now: float, ok: bool, latency_ms: float) -> None:
        with self._lock:
            self._items.append((now, ok, latency_ms))
            self._trim(now)

    def _trim(self, now: float) -> None:
        while self._items and self._items[0][0] < now - self.seconds:
            self._items.popleft()

    def stats(self, now: float) -> dict[str, float | None]:
        with self._lock:
            self._trim(now)
            items = list(self._items)
        latencies = [latency for _, _, latency in items]
        ok = sum(1 for _, good, _ in items if good)
        return {
            "requests": float(len(items)),
            "availability": ok / len(items) if items else None,
            "p50_ms": nearest_rank(latencies, 50),
            "p95_ms": nearest_rank(latencies, 95),
            "p99_ms": nearest_rank(latencies, 99),
        }


class StoreRecorder:
    """Batches points into the store from one background thread (every ``flush_every`` s)."""

    def __init__(self, store: TelemetryStore | None, flush_every: float = 0.25) -> None:
        self.store = store
        self.flush_every = flush_every
        self.written = 0
        self.dropped = 0
        self.last_error: str | None = None
        self._queue: queue.SimpleQueue[Point | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="loadgen-store", daemon=True)
        self._started = False

    def start(self) -> None:
        if self.store is not None and not self._started:
            self._started = True
            self._thread.start()

    def add(self, point: Point) -> None:
        if self.store is not None:
            self._queue.put(point)

    def _loop(self) -> None:
        done = False
        while not done:
            time.sleep(self.flush_every)
            batch: list[Point] = []
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    done = True
                    break
                batch.append(item)
            self._write(batch)

    def _write(self, batch: list[Point]) -> None:
        if not batch or self.store is None:
            return
        try:
            self.written += self.store.write_points(batch)
        except StoreError as error:  # telemetry never breaks its host: count and go on
            self.dropped += len(batch)
            self.last_error = error.message

    def close(self, timeout: float = 10.0) -> None:
        """Flush what is queued and stop the thread."""
        if self._started:
            self._queue.put(None)
            self._thread.join(timeout)
            self._started = False
        if self.store is not None:
            self.store.close()


class SkewTracker:
    """Per-second send-time skew summaries (p50/p99/max), plus the whole run's figures."""

    def __init__(self) -> None:
        self._second: int | None = None
        self._current: list[float] = []
        self.all = BoundedSample()

    def add(self, wall: float, skew_ms: float) -> list[Point]:
        """Record one skew; returns the points of a second that just ended (if any)."""
        second = int(wall)
        points: list[Point] = []
        if self._second is not None and second != self._second:
            points = self.flush()
        self._second = second
        self._current.append(skew_ms)
        self.all.add(skew_ms)
        return points

    def flush(self) -> list[Point]:
        if self._second is None or not self._current:
            return []
        ts = float(self._second + 1)
        values = self._current
        self._current = []
        stats = {
            "p50": nearest_rank(values, 50),
            "p99": nearest_rank(values, 99),
            "max": max(values),
        }
        return [Point(SKEW_SERIES, v, {"stat": k}, ts) for k, v in stats.items() if v is not None]

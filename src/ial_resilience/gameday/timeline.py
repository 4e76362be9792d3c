"""Traffic timelines: the load generator's requests bucketed in time (availability, latency).

Every request is one point of ``loadgen.request_ms`` in the telemetry store, timestamped with
its scheduled send time. A timeline cuts a time range into equal buckets — wide enough that a
range never needs more than ``max_buckets`` of them, so a long game day stays small — and
gives per bucket the request count, availability and exact nearest-rank p50/p95/p99.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ial_resilience.lab.loadgen_record import REQUEST_SERIES, nearest_rank
from ial_resilience.observability.store import TelemetryStore

MAX_BUCKETS = 240
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class Request:
    ts: float
    ok: bool
    latency_ms: float
    write: bool = False

    @property
    def answered_at(self) -> float:
        return self.ts + self.latency_ms / 1000.0


@dataclass(frozen=True, slots=True)
class Bucket:
    start: float
    requests: int
    ok: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None

    @property
    def availability(self) -> float | None:
        return self.ok / self.requests if self.requests else None


@dataclass(frozen=True, slots=True)
class Timeline:
    start: float
    end: float
    width: float
    buckets: tuple[Bucket, ...]

    @property
    def requests(self) -> int:
        return sum(b.requests for b in self.buckets)

    @property
    def ok(self) -> int:
        return sum(b.ok for b in self.buckets)

    def to_json(self) -> dict[str, object]:
        """Column form (compact): offsets in seconds from ``start``."""
        return {
            "start": self.start,
            "end": self.end,
            "width_s": self.width,
            "t": [round(b.start - self.start, 3) for b in self.buckets],
            "requests": [b.requests for b in self.buckets],
            "availability": [_round(b.availability, 5) for b in self.buckets],
            "p50_ms": [_round(b.p50_ms, 2) for b in self.buckets],
            "p95_ms": [_round(b.p95_ms, 2) for b in self.buckets],
            "p99_ms": [_round(b.p99_ms, 2) for b in self.buckets],
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def bucket_width(span: float, base: float = 1.0, max_buckets: int = MAX_BUCKETS) -> float:
    """``base`` seconds, doubled until ``span`` fits in ``max_buckets`` buckets."""
    width = base
    while span / width > max_buckets:
        width *= 2
    return width


def build_timeline(
    requests: Iterable[Request], start: float, end: float, *, base: float = 1.0
) -> Timeline:
    """Bucket requests scheduled in ``[start, end)``; empty buckets are kept (no traffic)."""
    width = bucket_width(max(end - start, base), base)
    count = max(1, math.ceil((end - start) / width))
    groups: list[list[Request]] = [[] for _ in range(count)]
    for request in requests:
        if start <= request.ts < end:
            groups[min(count - 1, int((request.ts - start) / width))].append(request)
    buckets = tuple(_bucket(start + i * width, group) for i, group in enumerate(groups))
    return Timeline(start, end, width, buckets)


def _bucket(start: float, group: Sequence[Request]) -> Bucket:
    latencies = [r.latency_ms for r in group]
    return Bucket(
        start,
        len(group),
        sum(1 for r in group if r.ok),
        nearest_rank(latencies, 50),
        nearest_rank(latencies, 95),
        nearest_rank(latencies, 99),
    )


def read_requests(store: TelemetryStore, start: float, end: float) -> list[Request]:
    """Every recorded request scheduled in ``(start, end]``, oldest first."""
    found: list[Request] = []
    for series in store.points(REQUEST_SERIES, {}, start, end):
        ok = series.labels.get("outcome") == "ok"
        write = series.labels.get("method", "GET") in WRITES
        pairs = zip(series.ts, series.values, strict=True)
        found += [Request(ts, ok, value, write) for ts, value in pairs]
    return sorted(found, key=lambda r: r.ts)


def error_window(requests: Sequence[Request], since: float) -> tuple[float, float] | None:
    """(first, last) scheduled time of failed requests at or after ``since``; None if none."""
    failed = [r for r in requests if r.ts >= since and not r.ok]
    if not failed:
        return None
    return failed[0].ts, failed[-1].ts + failed[-1].latency_ms / 1000.0


def users_rto(requests: Sequence[Request], since: float) -> float | None:
    """Recovery time seen by users after an event at ``since`` (unix s), e.g. a failover.

    The later of: the first successful answer after the last failed request (0 when none
    failed), and the first successful **write** answered after ``since`` (users can write
    again — a failover always costs that much). None when either never happened (not
    recovered, or no write was sent).
    """
    after = [r for r in requests if r.ts >= since]
    failed = [r.ts for r in after if not r.ok]
    errors_over: float | None = since
    if failed:
        last = max(failed)
        success = next((r for r in after if r.ts > last and r.ok), None)
        errors_over = success.answered_at if success else None
    write = next((r for r in after if r.write and r.ok), None)
    if errors_over is None or write is None:
        return None
    return max(0.0, errors_over - since, write.answered_at - since)

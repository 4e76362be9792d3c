"""Evidence that a toxic landed: counters and measured delays, safe to update from any thread."""

from __future__ import annotations

import math
import random
import threading
from typing import Any

_MAX_SAMPLES = 50_000


class Evidence:
    """What one toxic did so far, across every connection it met."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random()
        self.connections_met = 0
        self.connections_affected = 0
        self.chunks = 0
        self.bytes_dropped = 0
        self.resets = 0
        self.connections_closed = 0
        self.closes_delayed = 0
        self.opens_delayed = 0
        self.requests_aborted = 0
        self.requests_delayed = 0
        self._delays_ms: list[float] = []
        self._delays_seen = 0

    def add(self, **counts: int) -> None:
        """Add to named counters, e.g. ``add(chunks=1, bytes_dropped=512)``."""
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def record_delay(self, seconds: float) -> None:
        """Record the delay really added to one chunk (bounded reservoir of samples)."""
        ms = seconds * 1000.0
        with self._lock:
            self._delays_seen += 1
            if len(self._delays_ms) < _MAX_SAMPLES:
                self._delays_ms.append(ms)
            else:
                slot = self._rng.randrange(self._delays_seen)
                if slot < _MAX_SAMPLES:
                    self._delays_ms[slot] = ms

    def landed(self) -> bool:
        """True when the toxic had an observable effect on a connection, chunk or request."""
        return (
            self.chunks > 0
            or self.bytes_dropped > 0
            or self.resets > 0
            or self.connections_closed > 0
            or self.closes_delayed > 0
            or self.opens_delayed > 0
            or self.requests_aborted > 0
            or self.requests_delayed > 0
        )

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            delays = sorted(self._delays_ms)
            result: dict[str, Any] = {
                "connections_met": self.connections_met,
                "connections_affected": self.connections_affected,
                "chunks": self.chunks,
                "bytes_dropped": self.bytes_dropped,
                "resets": self.resets,
                "connections_closed": self.connections_closed,
                "closes_delayed": self.closes_delayed,
                "opens_delayed": self.opens_delayed,
                "requests_aborted": self.requests_aborted,
                "requests_delayed": self.requests_delayed,
            }
        if delays:
            result["added_delay_ms"] = {
                "p50": round(_percentile(delays, 0.50), 3),
                "p99": round(_percentile(delays, 0.99), 3),
                "max": round(delays[-1], 3),
                "samples": len(delays),
            }
        result["landed"] = self.landed()
        return result


def _percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    index = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))
    return ordered[index]

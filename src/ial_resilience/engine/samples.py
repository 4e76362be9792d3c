"""Bounded sample keeping for long runs.

Two structures, both with memory bounded independently of the run's length:

- :class:`SampleRecorder` (what the journal shows): keeps every sample up to ``cap``; when the
  cap is reached it drops every other kept sample and from then on keeps one sample in
  ``stride`` (the stride doubles each time), so the kept samples stay evenly spread over the
  whole run. Beside them it keeps exact per-window aggregates (count, ok, latency
  min/max/sum, value min/max/sum/last) over fixed-width windows of the monotonic clock; when
  there would be more than ``max_windows`` windows, adjacent pairs are merged and the width
  doubles. Aggregates are exact: decimation never changes a count, a minimum or a sum.
- :class:`Accumulator` (what verdicts use): exact statistics over every sample given, at
  8 bytes per sample (latencies kept in an ``array('d')`` for exact percentiles).
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from typing import Any

from ial_resilience.probes.base import Sample
from ial_resilience.probes.stats import latency_statistics

DEFAULT_CAP = 600
DEFAULT_WINDOW_S = 1.0
DEFAULT_MAX_WINDOWS = 120


@dataclass(slots=True)
class WindowAggregate:
    start: float
    count: int = 0
    ok: int = 0
    latency_sum_ms: float = 0.0
    latency_min_ms: float = math.inf
    latency_max_ms: float = 0.0
    values: int = 0
    value_sum: float = 0.0
    value_min: float = math.inf
    value_max: float = -math.inf
    value_last: float | None = None

    def add(self, sample: Sample) -> None:
        self.count += 1
        self.ok += int(sample.ok)
        self.latency_sum_ms += sample.latency_ms
        self.latency_min_ms = min(self.latency_min_ms, sample.latency_ms)
        self.latency_max_ms = max(self.latency_max_ms, sample.latency_ms)
        if sample.value is not None:
            self.values += 1
            self.value_sum += sample.value
            self.value_min = min(self.value_min, sample.value)
            self.value_max = max(self.value_max, sample.value)
            self.value_last = sample.value

    def merge(self, later: WindowAggregate) -> None:
        self.count += later.count
        self.ok += later.ok
        self.latency_sum_ms += later.latency_sum_ms
        self.latency_min_ms = min(self.latency_min_ms, later.latency_min_ms)
        self.latency_max_ms = max(self.latency_max_ms, later.latency_max_ms)
        self.values += later.values
        self.value_sum += later.value_sum
        self.value_min = min(self.value_min, later.value_min)
        self.value_max = max(self.value_max, later.value_max)
        if later.value_last is not None:
            self.value_last = later.value_last

    def to_json(self, width: float) -> dict[str, Any]:
        return {
            "start_s": round(self.start, 6),
            "width_s": width,
            "count": self.count,
            "ok": self.ok,
            "latency_ms": {
                "min": self.latency_min_ms if self.count else None,
                "max": self.latency_max_ms if self.count else None,
                "mean": self.latency_sum_ms / self.count if self.count else None,
            },
            "value": {
                "count": self.values,
                "min": self.value_min if self.values else None,
                "max": self.value_max if self.values else None,
                "mean": self.value_sum / self.values if self.values else None,
                "last": self.value_last,
            },
        }


class SampleRecorder:
    """Evenly decimated samples plus exact per-window aggregates, for one probe."""

    def __init__(
        self,
        t0_mono: float,
        *,
        cap: int = DEFAULT_CAP,
        window_s: float = DEFAULT_WINDOW_S,
        max_windows: int = DEFAULT_MAX_WINDOWS,
    ) -> None:
        if cap < 2 or max_windows < 2:
            raise ValueError("cap and max_windows must be at least 2")
        self.t0 = t0_mono
        self.cap = cap
        self.window_s = window_s
        self.max_windows = max_windows
        self.kept: list[Sample] = []
        self.stride = 1
        self.seen = 0
        self.windows: list[WindowAggregate] = []

    def add(self, sample: Sample) -> None:
        if self.seen % self.stride == 0:
            self.kept.append(sample)
            if len(self.kept) >= self.cap:
                self.kept = self.kept[::2]
                self.stride *= 2
        self.seen += 1
        self._aggregate(sample)

    def _aggregate(self, sample: Sample) -> None:
        offset = max(0.0, sample.t_mono - self.t0)
        index = int(offset // self.window_s)
        while index >= self.max_windows:
            self._halve_windows()
            index = int(offset // self.window_s)
        while len(self.windows) <= index:
            self.windows.append(WindowAggregate(start=len(self.windows) * self.window_s))
        self.windows[index].add(sample)

    def _halve_windows(self) -> None:
        merged: list[WindowAggregate] = []
        for i in range(0, len(self.windows), 2):
            head = self.windows[i]
            head.start = (i // 2) * self.window_s * 2
            if i + 1 < len(self.windows):
                head.merge(self.windows[i + 1])
            merged.append(head)
        self.windows = merged
        self.window_s *= 2

    def to_json(self) -> dict[str, Any]:
        return {
            "seen": self.seen,
            "kept": len(self.kept),
            "stride": self.stride,
            "samples": [sample_json(s, self.t0) for s in self.kept],
            "windows": [w.to_json(self.window_s) for w in self.windows if w.count],
        }


def sample_json(sample: Sample, t0_mono: float) -> dict[str, Any]:
    return {
        "t": round(sample.t_mono - t0_mono, 6),
        "wall": round(sample.t_wall, 6),
        "ok": sample.ok,
        "latency_ms": round(sample.latency_ms, 3),
        "value": sample.value,
        "error": sample.error,
    }


class Accumulator:
    """Exact statistics over every sample added (same names as ``probes.stats.compute``)."""

    def __init__(self) -> None:
        self.count = 0
        self.ok = 0
        self.latencies = array("d")
        self.values = 0
        self.value_sum = 0.0
        self.value_min = math.inf
        self.value_max = -math.inf
        self.value_last: float | None = None

    def add(self, sample: Sample) -> None:
        self.count += 1
        self.ok += int(sample.ok)
        self.latencies.append(sample.latency_ms)
        if sample.value is not None:
            self.values += 1
            self.value_sum += sample.value
            self.value_min = min(self.value_min, sample.value)
            self.value_max = max(self.value_max, sample.value)
            self.value_last = sample.value

    def statistics(self) -> dict[str, float | None]:
        n = self.count
        result: dict[str, float | None] = {
            "success_rate": self.ok / n if n else None,
            "error_rate": (n - self.ok) / n if n else None,
            "count": float(n),
        }
        result.update(latency_statistics(self.latencies))
        result.update(
            {
                "value_min": self.value_min if self.values else None,
                "value_max": self.value_max if self.values else None,
                "value_mean": self.value_sum / self.values if self.values else None,
                "value_last": self.value_last,
            }
        )
        return result

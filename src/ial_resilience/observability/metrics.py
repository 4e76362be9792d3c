"""Business metrics: ``count``, ``gauge``, ``timing`` with dimensions, sent to every sink.

Sinks (chosen by :func:`setup_metrics`; none until then, so calls are cheap no-ops):
- ``emf``: CloudWatch Embedded Metric Format JSON lines (one document per point) written to
  a stream (stdout on Lambda/ECS where the agent collects them);
- ``prometheus``: counters, gauges and histograms in :data:`registry.REGISTRY`;
- ``store``: the local telemetry store, through a background batch writer.

A sink that fails counts the point as dropped (``ialr_telemetry_metric_drops``) and never
raises into the caller.
"""

from __future__ import annotations

import atexit
import json
import re
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, Protocol

from prometheus_client import Counter, Gauge, Histogram

from ial_resilience.errors import InputError
from ial_resilience.observability.registry import METRIC_DROPS, REGISTRY
from ial_resilience.observability.store import Point, TelemetryStore

BUSINESS_NAMESPACE = "IaL/Business"
CHAOS_NAMESPACE = "IaL/Chaos"
RESILIENCE_NAMESPACE = "IaL/Resilience"
DEFAULT_NAMESPACE = RESILIENCE_NAMESPACE
MAX_DIMENSIONS = 30  # CloudWatch: at most 30 dimensions per dimension set

# The namespace each metric family belongs to on CloudWatch (the dashboards and alarms of
# ``ialr observe`` read them there); names outside these families use the sink's namespace.
FAMILY_NAMESPACES: dict[str, str] = {
    "deployment.": BUSINESS_NAMESPACE,
    "validation.": BUSINESS_NAMESPACE,
    "rollback.": BUSINESS_NAMESPACE,
    "chaos.": CHAOS_NAMESPACE,
    "recovery.": RESILIENCE_NAMESPACE,
    "resilience.": RESILIENCE_NAMESPACE,
}


def namespace_for(name: str, default: str = DEFAULT_NAMESPACE) -> str:
    """The CloudWatch namespace of metric ``name`` (by family prefix, else ``default``)."""
    for prefix, namespace in FAMILY_NAMESPACES.items():
        if name.startswith(prefix):
            return namespace
    return default


class Kind(StrEnum):
    COUNT = "count"
    GAUGE = "gauge"
    TIMING = "timing"


UNITS = {Kind.COUNT: "Count", Kind.GAUGE: "None", Kind.TIMING: "Milliseconds"}


class Sink(Protocol):
    name: str

    def record(
        self, kind: Kind, name: str, value: float, dims: Mapping[str, str], ts: float
    ) -> None: ...

    def flush(self) -> None: ...


def emf_document(
    namespace: str,
    kind: Kind,
    name: str,
    value: float,
    dims: Mapping[str, str],
    ts: float,
    extra_sets: Sequence[Sequence[str]] = (),
) -> dict[str, Any]:
    """One EMF document (CloudWatch embedded metric format specification).

    ``extra_sets`` are further dimension sets to publish the point under (CloudWatch matches
    dimensions exactly; an SLO alarm selecting by ``service`` alone needs the point under
    ``(service,)`` too — see ``ial_resilience.aws.observability.dimension_sets``). Sets that
    name a dimension the point does not carry are skipped.
    """
    keys = list(dims)[:MAX_DIMENSIONS]
    sets = [keys]
    for extra in extra_sets:
        chosen = list(extra)
        if chosen != keys and chosen not in sets and all(k in dims for k in chosen):
            sets.append(chosen)
    return {
        "_aws": {
            "Timestamp": int(ts * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": sets,
                    "Metrics": [{"Name": name, "Unit": UNITS[kind]}],
                }
            ],
        },
        **{k: dims[k] for k in keys},
        name: value,
    }


class EmfSink:
    name = "emf"

    def __init__(
        self,
        namespace: str = DEFAULT_NAMESPACE,
        stream: IO[str] | None = None,
        *,
        route_families: bool = True,
        dimension_sets: Mapping[str, Sequence[Sequence[str]]] | None = None,
    ) -> None:
        self.namespace = namespace
        self.stream = stream
        self.route_families = route_families
        self.dimension_sets = dict(dimension_sets or {})
        self._lock = threading.Lock()

    def record(
        self, kind: Kind, name: str, value: float, dims: Mapping[str, str], ts: float
    ) -> None:
        namespace = namespace_for(name, self.namespace) if self.route_families else self.namespace
        extra = self.dimension_sets.get(name, ())
        line = json.dumps(emf_document(namespace, kind, name, value, dims, ts, extra))
        with self._lock:
            stream = self.stream or sys.stdout
            stream.write(line + "\n")

    def flush(self) -> None:
        (self.stream or sys.stdout).flush()


def prometheus_name(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_:]", "_", name)


class PrometheusSink:
    """One collector per metric name; its label names are fixed by the first call."""

    name = "prometheus"

    def __init__(self) -> None:
        self._collectors: dict[tuple[Kind, str], tuple[Any, tuple[str, ...]]] = {}
        self._lock = threading.Lock()

    def _collector(self, kind: Kind, name: str, labels: tuple[str, ...]) -> Any:
        with self._lock:
            found = self._collectors.get((kind, name))
            if found is None:
                base = prometheus_name(name)
                if kind is Kind.COUNT:
                    metric: Any = Counter(base, name, labels, registry=REGISTRY)
                elif kind is Kind.GAUGE:
                    metric = Gauge(base, name, labels, registry=REGISTRY)
                else:
                    metric = Histogram(base + "_ms", name, labels, registry=REGISTRY)
                found = (metric, labels)
                self._collectors[(kind, name)] = found
        metric, known = found
        if known != labels:
            raise ValueError(f"{name}: dimensions {labels} differ from the first {known}")
        return metric

    def record(
        self, kind: Kind, name: str, value: float, dims: Mapping[str, str], ts: float
    ) -> None:
        labels = tuple(sorted(dims))
        metric = self._collector(kind, name, labels)
        child = metric.labels(**{prometheus_name(k): dims[k] for k in labels}) if labels else metric
        if kind is Kind.COUNT:
            child.inc(value)
        elif kind is Kind.GAUGE:
            child.set(value)
        else:
            child.observe(value)

    def flush(self) -> None:
        return None


class StoreSink:
    """Buffers points and writes them in batches from a background thread."""

    name = "store"

    def __init__(
        self, store: TelemetryStore, *, flush_every: float = 1.0, max_buffer: int = 100_000
    ) -> None:
        self.store = store
        self.flush_every = flush_every
        self.max_buffer = max_buffer
        self._buffer: list[Point] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ialr-metrics", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def record(
        self, kind: Kind, name: str, value: float, dims: Mapping[str, str], ts: float
    ) -> None:
        with self._lock:
            if len(self._buffer) >= self.max_buffer:
                raise OverflowError("store buffer full")
            self._buffer.append(Point(name, value, dict(dims), ts))

    def flush(self) -> None:
        with self._lock:
            batch, self._buffer = self._buffer, []
        if not batch:
            return
        try:
            self.store.write_points(batch)
        except Exception:
            METRIC_DROPS.labels(sink=self.name, reason="write_failed").inc(len(batch))

    def _loop(self) -> None:
        while not self._stop.wait(self.flush_every):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self.flush()
        atexit.unregister(self.close)


_sinks: list[Sink] = []


def setup_metrics(
    *,
    sinks: tuple[str, ...] = ("prometheus",),
    namespace: str = DEFAULT_NAMESPACE,
    store: TelemetryStore | str | Path | None = None,
    emf_stream: IO[str] | None = None,
    dimension_sets: Mapping[str, Sequence[Sequence[str]]] | None = None,
) -> list[Sink]:
    """Choose where metrics go; replaces earlier sinks (flushing them).

    On EMF, the plan's metric families go to their own namespace (``deployment.*``,
    ``validation.*``, ``rollback.*`` → ``IaL/Business``; ``chaos.*`` → ``IaL/Chaos``;
    ``recovery.*``, ``resilience.*`` → ``IaL/Resilience``) and every other metric to
    ``namespace``; ``dimension_sets`` (metric → extra dimension sets, e.g. from
    ``ial_resilience.aws.observability.dimension_sets(rules)``) publishes each point under
    the sets compiled SLO alarms select by.
    """
    built: list[Sink] = []
    for name in sinks:
        if name == "emf":
            built.append(EmfSink(namespace, emf_stream, dimension_sets=dimension_sets))
        elif name == "prometheus":
            built.append(PrometheusSink())
        elif name == "store":
            if store is None:
                raise InputError("the store sink needs a store", hint="pass store=PATH")
            target = store if isinstance(store, TelemetryStore) else TelemetryStore(store)
            built.append(StoreSink(target))
        else:
            raise InputError(f"unknown metric sink {name!r}", hint="use emf, prometheus, store")
    shutdown_metrics()
    _sinks.extend(built)
    return built


def shutdown_metrics() -> None:
    for sink in _sinks:
        _safe(sink.flush, sink.name)
        close = getattr(sink, "close", None)
        if close is not None:
            _safe(close, sink.name)
    _sinks.clear()


def _safe(call: Any, sink: str) -> None:
    try:
        call()
    except Exception:
        METRIC_DROPS.labels(sink=sink, reason="flush_failed").inc()


def flush() -> None:
    for sink in _sinks:
        _safe(sink.flush, sink.name)


def _emit(kind: Kind, name: str, value: float, dims: Mapping[str, Any]) -> None:
    if not _sinks:
        return
    text = {k: str(v) for k, v in dims.items()}
    ts = time.time()
    for sink in _sinks:
        try:
            sink.record(kind, name, float(value), text, ts)
        except Exception:
            METRIC_DROPS.labels(sink=sink.name, reason="record_failed").inc()


def count(name: str, value: float = 1.0, **dimensions: Any) -> None:
    """Count an event (``value`` occurrences)."""
    _emit(Kind.COUNT, name, value, dimensions)


def gauge(name: str, value: float, **dimensions: Any) -> None:
    """Record the current value of something."""
    _emit(Kind.GAUGE, name, value, dimensions)


def timing(name: str, milliseconds: float, **dimensions: Any) -> None:
    """Record a duration in milliseconds."""
    _emit(Kind.TIMING, name, milliseconds, dimensions)

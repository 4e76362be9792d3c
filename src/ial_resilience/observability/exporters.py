"""Span exporters and processors that count what they export, fail and drop — never raise.

``CountingExporter`` wraps any exporter: an exception or a failed export becomes counted
dropped spans. ``CountingBatchProcessor`` is the SDK's batch processor plus a count of spans
dropped because its queue was full. ``StoreSpanExporter`` writes spans into the telemetry
store. Counters: :func:`telemetry_counters` and the Prometheus registry of
:mod:`ial_resilience.observability.registry`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, StatusCode

from ial_resilience.observability.registry import SPAN_EVENTS
from ial_resilience.observability.store import SpanRecord, TelemetryStore

_lock = threading.Lock()
_counts: dict[str, int] = {"exported": 0, "export_failures": 0, "dropped": 0, "queue_full": 0}


def _add(key: str, amount: int) -> None:
    with _lock:
        _counts[key] += amount
    SPAN_EVENTS.labels(outcome=key).inc(amount)


def telemetry_counters() -> dict[str, int]:
    """Spans exported, export calls that failed, spans dropped (failures + queue full)."""
    with _lock:
        return dict(_counts)


class CountingExporter(SpanExporter):
    """Delegates to ``inner``; exceptions and failures are counted, never raised."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception:  # telemetry never breaks its host
            result = SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            _add("exported", len(spans))
        else:
            _add("export_failures", 1)
            _add("dropped", len(spans))
        return result

    def shutdown(self) -> None:
        try:
            self.inner.shutdown()
        except Exception:
            _add("export_failures", 1)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        try:
            return bool(self.inner.force_flush(timeout_millis))
        except Exception:
            return False


class CountingBatchProcessor(BatchSpanProcessor):
    """A ``BatchSpanProcessor`` that counts spans its full queue drops."""

    def __init__(self, exporter: SpanExporter, *, max_queue_size: int = 2048) -> None:
        super().__init__(
            exporter, max_queue_size=max_queue_size, max_export_batch_size=min(512, max_queue_size)
        )
        self._max_queue = max_queue_size

    def on_end(self, span: ReadableSpan) -> None:
        if not span.context or not span.context.trace_flags.sampled:
            return
        queue = getattr(getattr(self, "_batch_processor", None), "_queue", None)
        if queue is not None and len(queue) >= self._max_queue:
            _add("queue_full", 1)
            _add("dropped", 1)
        super().on_end(span)


_KINDS = {
    SpanKind.SERVER: "server",
    SpanKind.CLIENT: "client",
    SpanKind.INTERNAL: "internal",
    SpanKind.PRODUCER: "producer",
    SpanKind.CONSUMER: "consumer",
}


def to_record(span: ReadableSpan) -> SpanRecord:
    context = span.context
    assert context is not None
    parent = span.parent
    resource = span.resource.attributes if span.resource else {}
    status = "error" if span.status.status_code is StatusCode.ERROR else "ok"
    return SpanRecord(
        trace_id=f"{context.trace_id:032x}",
        span_id=f"{context.span_id:016x}",
        parent_id=f"{parent.span_id:016x}" if parent else None,
        service=str(resource.get("service.name", "unknown")),
        name=span.name,
        kind=_KINDS.get(span.kind, "internal"),
        start=(span.start_time or 0) / 1e9,
        end=(span.end_time or span.start_time or 0) / 1e9,
        status=status,
        attributes=dict(span.attributes or {}),
    )


class StoreSpanExporter(SpanExporter):
    """Writes spans into the telemetry store (one transaction per batch)."""

    def __init__(self, store: TelemetryStore) -> None:
        self.store = store

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.store.write_spans(to_record(span) for span in spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.store.close()

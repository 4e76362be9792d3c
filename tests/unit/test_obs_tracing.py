"""Tracing helpers, counted drops and failures, JSON logs with trace ids."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import StatusCode

from ial_resilience.errors import InputError
from ial_resilience.observability import tracing
from ial_resilience.observability.exporters import (
    CountingBatchProcessor,
    CountingExporter,
    telemetry_counters,
)
from ial_resilience.observability.logs import JsonFormatter
from ial_resilience.observability.registry import REGISTRY
from ial_resilience.observability.store import TelemetryStore


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use_provider(provider)
    yield exporter
    tracing.use_provider(TracerProvider(), sample_ratio=1.0)


def test_traced_and_span_nest_and_record_errors(spans: InMemorySpanExporter) -> None:
    @tracing.traced
    def outer() -> str:
        with tracing.span("inner", order_id=7):
            return "done"

    @tracing.traced(name="explodes")
    def explodes() -> None:
        raise ValueError("boom")

    assert outer() == "done"
    with pytest.raises(ValueError):
        explodes()
    inner, outer_span, failed = spans.get_finished_spans()
    assert inner.name == "inner" and inner.attributes == {"order_id": 7}
    assert outer_span.name.endswith("test_traced_and_span_nest_and_record_errors.<locals>.outer")
    assert inner.parent is not None and inner.parent.span_id == outer_span.context.span_id
    assert failed.status.status_code is StatusCode.ERROR and failed.events[0].name == "exception"


def test_unsampled_path_creates_no_span() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.0)))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use_provider(provider, sample_ratio=0.0)
    try:
        assert tracing.traced(lambda: 3)() == 3
        with tracing.span("x") as current:
            assert not current.get_span_context().is_valid
        assert exporter.get_finished_spans() == ()
    finally:
        tracing.use_provider(TracerProvider(), sample_ratio=1.0)


class Failing(SpanExporter):
    def __init__(self, raise_: bool) -> None:
        self.raise_ = raise_

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.raise_:
            raise ConnectionError("collector down")
        return SpanExportResult.FAILURE


@pytest.mark.parametrize("raise_", [True, False])
def test_export_failures_are_counted_never_raised(raise_: bool) -> None:
    before = telemetry_counters()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(CountingExporter(Failing(raise_))))
    tracer = provider.get_tracer("t")
    for _ in range(3):
        with tracer.start_as_current_span("work"):
            pass
    after = telemetry_counters()
    assert after["dropped"] - before["dropped"] == 3
    assert after["export_failures"] - before["export_failures"] == 3
    dropped = REGISTRY.get_sample_value("ialr_telemetry_spans_total", {"outcome": "dropped"})
    assert dropped is not None and dropped >= 3


def test_full_queue_drops_are_counted() -> None:
    class Slow(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    before = telemetry_counters()["queue_full"]
    processor = CountingBatchProcessor(CountingExporter(Slow()), max_queue_size=4)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    otel_logger = logging.getLogger("opentelemetry")
    level = otel_logger.level
    otel_logger.setLevel(logging.ERROR)  # "Queue full" warnings are expected here
    try:
        for _ in range(500):
            tracer.start_span("s").end()
        provider.shutdown()
    finally:
        otel_logger.setLevel(level)
    assert telemetry_counters()["queue_full"] > before


def test_setup_tracing_with_the_store_exporter(tmp_path: Path) -> None:
    store = TelemetryStore(tmp_path / "t.db")
    setup = tracing.setup_tracing("orders", exporter="store", store=store, set_global=False)
    try:
        with tracing.span("checkout", items=2):
            ids = tracing.current_ids()
        assert setup.force_flush()
        assert ids is not None
        (record,) = store.spans(ids[0])
        assert (record.service, record.name, record.attributes) == (
            "orders",
            "checkout",
            {"items": 2},
        )
    finally:
        setup.shutdown()
        tracing.use_provider(TracerProvider(), sample_ratio=1.0)


def test_xray_ids_and_bad_arguments() -> None:
    setup = tracing.setup_tracing("x", exporter="none", xray=True, set_global=False)
    try:
        with tracing.span("s"):
            ids = tracing.current_ids()
        assert ids is not None
        import time

        assert abs(int(ids[0][:8], 16) - time.time()) < 600  # X-Ray ids start with the time
    finally:
        setup.shutdown()
        tracing.use_provider(TracerProvider(), sample_ratio=1.0)
    with pytest.raises(InputError, match="unknown trace exporter"):
        tracing.setup_tracing("x", exporter="jaeger", set_global=False)
    with pytest.raises(InputError, match="sample_ratio"):
        tracing.setup_tracing("x", exporter="none", sample_ratio=2, set_global=False)
    with pytest.raises(InputError, match="needs a telemetry store"):
        tracing.setup_tracing("x", exporter="store", set_global=False)


def test_json_logs_carry_trace_and_span_ids(spans: InMemorySpanExporter) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("orders"))
    logger = logging.getLogger("test.json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("outside")
        with tracing.span("work"):
            ids = tracing.current_ids()
            logger.info("inside %s", 1, extra={"order_id": 9})
    finally:
        logger.removeHandler(handler)
    outside, inside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert "trace_id" not in outside and outside["service"] == "orders"
    assert ids is not None
    assert (inside["trace_id"], inside["span_id"]) == ids
    assert inside["message"] == "inside 1" and inside["order_id"] == 9
    assert inside["xray_trace_id"] == f"1-{ids[0][:8]}-{ids[0][8:]}"

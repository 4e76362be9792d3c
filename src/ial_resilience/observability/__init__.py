"""Observability for Python code: tracing, business metrics, JSON logs, the telemetry store.

Three lines::

    from ial_resilience.observability import setup_tracing, traced, metrics
    setup_tracing("orders", exporter="otlp")
    metrics.count("orders.created", region="eu")
"""

from ial_resilience.observability import metrics, recorders
from ial_resilience.observability.exporters import telemetry_counters
from ial_resilience.observability.logs import JsonFormatter, setup_json_logging
from ial_resilience.observability.metrics import setup_metrics
from ial_resilience.observability.store import Point, SpanRecord, TelemetryStore, open_store
from ial_resilience.observability.tracing import (
    Tracing,
    current_ids,
    setup_tracing,
    span,
    traced,
)

__all__ = [
    "JsonFormatter",
    "Point",
    "SpanRecord",
    "TelemetryStore",
    "Tracing",
    "current_ids",
    "metrics",
    "open_store",
    "recorders",
    "setup_json_logging",
    "setup_metrics",
    "setup_tracing",
    "span",
    "telemetry_counters",
    "traced",
]

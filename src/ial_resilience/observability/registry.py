"""The Prometheus registry of this library (business metrics and telemetry self-metrics).

A registry of our own, not prometheus_client's global one, so an application's metrics and
ours never clash; serve it with ``prometheus_client.generate_latest(REGISTRY)``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

REGISTRY = CollectorRegistry(auto_describe=True)

SPAN_EVENTS = Counter(
    "ialr_telemetry_spans",
    "Spans by outcome: exported, export_failures (calls), dropped, queue_full",
    ["outcome"],
    registry=REGISTRY,
)
METRIC_DROPS = Counter(
    "ialr_telemetry_metric_drops",
    "Business metric points not recorded, by sink and reason",
    ["sink", "reason"],
    registry=REGISTRY,
)

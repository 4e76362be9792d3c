"""``/metrics``: the agent's Prometheus text, from its own ``CollectorRegistry``.

Per link: connections (active, total), bytes per direction, resets, HTTP connections that went
pass-through (their later requests unmatched) by reason. Per fault kind: applied, reverted,
expired, failed. A gauge of active faults. Collecting never raises into the agent: a
failing source is skipped and counted in ``ialr_agent_scrape_errors_total``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger("ialr.agent")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
FAULT_EVENTS = ("applied", "reverted", "expired", "failed")


class _LiveCollector(Collector):
    def __init__(
        self,
        links: Callable[[], list[dict[str, Any]]],
        active_faults: Callable[[], int],
        errors: Counter,
    ) -> None:
        self._links, self._active, self._errors = links, active_faults, errors

    def collect(self) -> Iterator[Metric]:
        active = GaugeMetricFamily("ialr_agent_faults_active", "Faults applied and not reverted")
        try:
            active.add_metric([], self._active())
            yield active
        except Exception:
            self._errors.inc()
            log.exception("metrics: cannot count active faults")
        try:
            snapshots = self._links()
        except Exception:
            self._errors.inc()
            log.exception("metrics: cannot read link snapshots")
            return
        yield from _link_families(snapshots)


def _link_families(snapshots: list[dict[str, Any]]) -> Iterator[Metric]:
    conns = GaugeMetricFamily("ialr_link_connections_active", "Open connections", labels=["link"])
    total = CounterMetricFamily("ialr_link_connections", "Connections accepted", labels=["link"])
    data = CounterMetricFamily("ialr_link_bytes", "Bytes relayed", labels=["link", "direction"])
    resets = CounterMetricFamily("ialr_link_resets", "Connections reset", labels=["link"])
    unframed = CounterMetricFamily(
        "ialr_link_http_unframed",
        "HTTP-link connections whose later requests went unmatched, by reason",
        labels=["link", "reason"],
    )
    for snap in snapshots:
        name = str(snap.get("name", "?"))
        conns.add_metric([name], float(snap.get("connections_active", 0)))
        total.add_metric([name], float(snap.get("connections_total", 0)))
        data.add_metric([name, "upstream"], float(snap.get("bytes_up", 0)))
        data.add_metric([name, "downstream"], float(snap.get("bytes_down", 0)))
        resets.add_metric([name], float(snap.get("resets", 0)))
        for reason, count in dict(snap.get("http_unframed") or {}).items():
            unframed.add_metric([name, str(reason)], float(count))
    yield from (conns, total, data, resets, unframed)


class AgentMetrics:
    """The agent's metrics; ``fault_event`` is the registry's hook."""

    def __init__(
        self, links: Callable[[], list[dict[str, Any]]], active_faults: Callable[[], int]
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._faults = Counter(
            "ialr_agent_faults",
            "Fault events by kind (applied, reverted, expired, failed)",
            ["kind", "event"],
            registry=self.registry,
        )
        self._errors = Counter(
            "ialr_agent_scrape_errors", "Metric sources that failed", registry=self.registry
        )
        self.registry.register(_LiveCollector(links, active_faults, self._errors))

    def fault_event(self, kind: str, event: str) -> None:
        self._faults.labels(kind=kind, event=event).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)

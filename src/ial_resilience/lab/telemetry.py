"""Telemetry of the lab's services: traces and metrics into the lab's store.

Every lab service calls :func:`setup` once at start-up. The system file passes, per process:

- ``IALR_TELEMETRY_STORE``: the store file (``${state_dir}/telemetry.db``; several writer
  processes share it, WAL). Unset or empty → no telemetry (the service runs as before).
- ``IALR_TRACE_SAMPLE``: the root sampling ratio in [0, 1] (default 0.2). Sampling is
  parent-based: the LB decides for the whole request, the replicas and payments follow.
- ``IALR_TRACING=off``: no spans at all (metrics still recorded) — for measuring the cost.

Telemetry never breaks its host: a store that cannot be opened is reported on stderr and the
service runs without it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from ial_resilience.errors import IalrError
from ial_resilience.observability import metrics, setup_metrics, setup_tracing
from ial_resilience.observability.instrument import TracingMiddleware
from ial_resilience.observability.metrics import shutdown_metrics
from ial_resilience.observability.tracing import Tracing

STORE_ENV = "IALR_TELEMETRY_STORE"
SAMPLE_ENV = "IALR_TRACE_SAMPLE"
TRACING_ENV = "IALR_TRACING"
DEFAULT_SAMPLE = 0.2
TELEMETRY_FILE = "telemetry.db"  # in the lab dir: see store_path


def store_path(state_dir: Path | str) -> Path:
    """The lab's telemetry store: ``<state_dir>/lab/telemetry.db`` (a fresh one per ``up``)."""
    return Path(state_dir) / "lab" / TELEMETRY_FILE


@dataclass(frozen=True)
class LabTelemetry:
    """What :func:`setup` turned on for this process."""

    store: str
    tracing: Tracing | None
    metrics_on: bool

    @property
    def traced(self) -> bool:
        return self.tracing is not None

    def close(self) -> None:
        """Flush what is buffered (spans, metric points) into the store; never raises."""
        if self.tracing is not None:
            with contextlib.suppress(Exception):
                self.tracing.shutdown()
        if self.metrics_on:
            with contextlib.suppress(Exception):
                shutdown_metrics()


OFF = LabTelemetry(store="", tracing=None, metrics_on=False)


def sample_ratio(environ: dict[str, str] | None = None) -> float:
    """``IALR_TRACE_SAMPLE`` as a ratio (bad or missing → the default, said on stderr)."""
    raw = (environ if environ is not None else dict(os.environ)).get(SAMPLE_ENV, "")
    if not raw:
        return DEFAULT_SAMPLE
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if 0.0 <= value <= 1.0:
        return value
    print(f"{SAMPLE_ENV}={raw!r} is not a ratio in [0, 1]; using {DEFAULT_SAMPLE}", file=sys.stderr)
    return DEFAULT_SAMPLE


def setup(service: str, *, with_metrics: bool = False) -> LabTelemetry:
    """Tracing (unless ``IALR_TRACING=off``) and, if asked, metrics into the lab's store."""
    store = os.environ.get(STORE_ENV, "")
    if not store:
        return OFF
    try:
        tracing = None
        if os.environ.get(TRACING_ENV, "on").lower() != "off":
            tracing = setup_tracing(
                service, environment="lab", exporter="store", store=store,
                sample_ratio=sample_ratio(),
            )  # fmt: skip
        if with_metrics:
            setup_metrics(sinks=("store",), store=store)
    except IalrError as error:
        print(f"{service}: telemetry off, the store {store} failed: {error}", file=sys.stderr)
        return OFF
    return LabTelemetry(store=store, tracing=tracing, metrics_on=with_metrics)


def route_of(path: str) -> str:
    """``/orders/17`` → ``/orders/{id}``: a route label of bounded cardinality."""
    parts = [part for part in path.split("/") if part]
    if not parts:
        return "/"
    tail = "/{id}" if len(parts) > 1 else ""
    return f"/{parts[0]}{tail}"


class RequestMetrics:
    """ASGI middleware: ``http.requests`` {service, replica, route, outcome} (value 1, outcome
    ``ok`` below 500 else ``error``) and ``http.latency_ms`` {service, replica, route} per
    request, health checks and scrapes left out."""

    SKIPPED = frozenset({"/health", "/metrics"})

    def __init__(self, app: Any, service: str, replica: str) -> None:
        self.app = app
        self.service = service
        self.replica = replica

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in self.SKIPPED:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_seen(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_seen)
        finally:
            self._record(route_of(scope["path"]), status[0], time.perf_counter() - started)

    def _record(self, route: str, status: int, seconds: float) -> None:
        service, replica = self.service, self.replica
        outcome = "ok" if status < 500 else "error"
        metrics.count("http.requests", 1.0, service=service, replica=replica, route=route,
                      outcome=outcome)  # fmt: skip
        metrics.timing("http.latency_ms", seconds * 1000.0, service=service, replica=replica,
                       route=route)  # fmt: skip


def instrument(app: Starlette, telemetry: LabTelemetry, service: str, replica: str = "") -> None:
    """Add the request metrics and the tracing middleware that ``telemetry`` turned on."""
    if telemetry.metrics_on:
        app.add_middleware(RequestMetrics, service=service, replica=replica or service)
    if telemetry.traced:
        app.add_middleware(TracingMiddleware)

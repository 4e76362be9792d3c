"""OTLP/HTTP export: a real receiver on loopback gets the spans; a dead endpoint costs the
application nothing but counted drops."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider

from ial_resilience.observability import tracing
from ial_resilience.observability.exporters import telemetry_counters


class Receiver(BaseHTTPRequestHandler):
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        Receiver.bodies.append(self.rfile.read(length))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Receiver.bodies = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def work(n: int) -> int:
    total = 0
    for i in range(n):
        with tracing.span("unit", i=i):
            total += i
    return total


def test_spans_reach_a_real_otlp_receiver(receiver: str) -> None:
    before = telemetry_counters()["exported"]
    setup = tracing.setup_tracing("orders", exporter="otlp", endpoint=receiver, set_global=False)
    try:
        assert work(5) == 10
        assert setup.force_flush(10)
    finally:
        setup.shutdown()
        tracing.use_provider(TracerProvider())
    request = ExportTraceServiceRequest()
    request.ParseFromString(b"".join(Receiver.bodies))
    spans = [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert sorted(s.name for s in spans) == ["unit"] * 5
    service = {a.key: a.value.string_value for a in request.resource_spans[0].resource.attributes}
    assert service["service.name"] == "orders" and service["deployment.environment"] == "local"
    assert telemetry_counters()["exported"] - before == 5


def test_dead_endpoint_the_app_keeps_working_and_drops_are_counted() -> None:
    before = telemetry_counters()
    endpoint = f"http://127.0.0.1:{closed_port()}/v1/traces"
    setup = tracing.setup_tracing("orders", exporter="otlp", endpoint=endpoint, set_global=False)
    try:
        assert work(20) == 190  # nothing raised into the application
        setup.force_flush(15)
    finally:
        setup.shutdown()
        tracing.use_provider(TracerProvider())
    after = telemetry_counters()
    assert after["dropped"] - before["dropped"] == 20
    assert after["export_failures"] - before["export_failures"] >= 1
    assert after["exported"] == before["exported"]

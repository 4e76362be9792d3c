"""Probe kinds against real local things: an HTTP server, sockets, processes, commands."""

from __future__ import annotations

import http.server
import os
import socket
import sys
import threading
from collections.abc import Iterator

import pytest

from ial_resilience.probes.command import CommandConfig, CommandProbe
from ial_resilience.probes.http import HttpConfig, HttpProbe
from ial_resilience.probes.metric import MetricConfig, MetricProbe, find_sample
from ial_resilience.probes.process import ProcessConfig, ProcessProbe
from ial_resilience.probes.tcp import TcpConfig, TcpProbe

METRICS = """# HELP requests_total Requests.
# TYPE requests_total counter
requests_total{code="200",path="/orders"} 41
requests_total{code="500",path="/orders"} 2
# TYPE queue_depth gauge
queue_depth 7.5
"""


@pytest.fixture
def server() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = {
                "/ok": (200, b"fine"),
                "/teapot": (418, b"no"),
                "/metrics": (200, METRICS.encode()),
            }.get(self.path, (404, b""))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_http_probe_status_and_errors(server: str) -> None:
    probe = HttpProbe(HttpConfig(url=f"{server}/ok"))
    sample = probe.sample()
    assert sample.ok and sample.value == 200 and sample.latency_ms > 0 and sample.error is None
    probe.close()
    teapot = HttpProbe(HttpConfig(url=f"{server}/teapot"))
    assert not teapot.sample().ok
    teapot.close()
    expected = HttpProbe(HttpConfig(url=f"{server}/teapot", expect_status=(418,)))
    assert expected.sample().ok
    expected.close()
    down = HttpProbe(HttpConfig(url=f"http://127.0.0.1:{closed_port()}/", timeout=1.0))
    failed = down.sample()
    assert not failed.ok and failed.error and "ConnectError" in failed.error
    down.close()


def test_tcp_probe(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    assert TcpProbe(TcpConfig("127.0.0.1", port)).sample().ok
    refused = TcpProbe(TcpConfig("127.0.0.1", closed_port(), timeout=1.0)).sample()
    assert not refused.ok and refused.error


def test_metric_probe_reads_the_labelled_sample(server: str) -> None:
    labels = (("code", "500"),)
    probe = MetricProbe(MetricConfig(f"{server}/metrics", "requests_total", labels))
    sample = probe.sample()
    assert sample.ok and sample.value == 2
    probe.close()
    missing = MetricProbe(MetricConfig(f"{server}/metrics", "nope_total"))
    assert not missing.sample().ok
    missing.close()
    assert find_sample(METRICS, "queue_depth", {}) == 7.5


def test_process_probe_by_pid_and_match() -> None:
    assert ProcessProbe(ProcessConfig(pid=os.getpid())).sample().ok
    assert ProcessProbe(ProcessConfig(match=r"pytest|python")).sample().value >= 1  # type: ignore[operator]
    gone = ProcessProbe(ProcessConfig(process_name="no-such-process-ialr")).sample()
    assert not gone.ok and gone.value == 0


def test_command_probe_exit_code_and_timeout() -> None:
    assert CommandProbe(CommandConfig(("true",))).sample().ok
    failed = CommandProbe(CommandConfig((sys.executable, "-c", "import sys; sys.exit(3)"))).sample()
    assert not failed.ok and failed.value == 3
    slow = CommandProbe(CommandConfig(("sleep", "5"), timeout=0.2)).sample()
    assert not slow.ok and "did not finish" in (slow.error or "")
    missing = CommandProbe(CommandConfig(("/no/such/binary",))).sample()
    assert not missing.ok and "FileNotFoundError" in (missing.error or "")

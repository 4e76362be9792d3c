"""The load generator as a real process against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from ial_resilience.lab.loadgen_record import REQUEST_SERIES
from ial_resilience.observability.store import TelemetryStore
from ial_resilience.postgres import free_port


class _QuietServer(ThreadingHTTPServer):
    """A client that timed out and hung up is what some tests want: no traceback."""

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class Server:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.seen: Counter[str] = Counter()
        self.bodies: list[bytes] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.seen[f"{self.command} {self.path}"] += 1
                if body:
                    server.bodies.append(body)
                time.sleep(server.delay)
                payload = b'{"ok": true}'
                self.send_response(201 if self.command == "POST" else 200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def slow_server() -> Iterator[Server]:
    with Server(delay=0.2) as server:
        yield server


def loadgen(*args: str) -> list[str]:
    return [sys.executable, "-m", "ial_resilience.lab.loadgen", *args]


def run(*args: str, timeout: float = 30) -> dict[str, object]:
    done = subprocess.run(loadgen(*args), capture_output=True, timeout=timeout, check=True)
    summary: dict[str, object] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return summary


def test_open_loop_against_a_slow_server_holds_the_rate_and_records_everything(
    slow_server: Server, tmp_path: Path
) -> None:
    store_path = tmp_path / "telemetry.db"
    summary = run(
        "--url", slow_server.url, "--rate", "50", "--duration", "2s",
        "--mix", "GET /orders=1,POST /orders=1", "--store", str(store_path),
    )  # fmt: skip
    # 200 ms per answer at 50 req/s needs ~10 requests in flight: a closed loop over a few
    # connections would fall behind; the open loop sends all 100 on time.
    assert summary["scheduled"] == summary["completed"] == summary["ok"] == 100
    assert summary["rate_offered"] == pytest.approx(50.0, rel=0.1)
    latency = summary["latency_ms"]
    assert isinstance(latency, dict) and latency["p50"] >= 200.0
    assert slow_server.seen == {"GET /orders": 50, "POST /orders": 50}
    assert json.loads(slow_server.bodies[0]) == {"item": "loadgen", "amount": 1.0}
    store = TelemetryStore(store_path, create=False)
    series = store.points(REQUEST_SERIES, {}, 0, time.time() + 10)
    store.close()
    by_method = Counter(
        s.labels["method"] for s in series for _ in s.values if s.labels["outcome"] == "ok"
    )
    assert by_method == {"GET": 50, "POST": 50}
    assert min(v for s in series for v in s.values) >= 200.0


def test_a_refused_port_is_recorded_as_errors_at_the_same_rate(tmp_path: Path) -> None:
    summary = run("--url", f"http://127.0.0.1:{free_port()}", "--rate", "40", "--duration", "1s")
    assert summary["scheduled"] == summary["completed"] == 40
    assert summary["ok"] == 0 and summary["availability"] == 0.0
    assert summary["statuses"] == {"connect": 40}


def test_a_request_slower_than_the_timeout_is_a_timeout(tmp_path: Path) -> None:
    with Server(delay=1.0) as server:
        summary = run(
            "--url", server.url, "--rate", "10", "--duration", "1s", "--timeout", "300ms"
        )  # fmt: skip
    assert summary["statuses"] == {"timeout": 10}
    latency = summary["latency_ms"]
    assert isinstance(latency, dict) and 300.0 <= latency["p50"] < 1000.0


def test_live_metrics_then_sigterm_flushes_and_prints_the_summary(
    slow_server: Server, tmp_path: Path
) -> None:
    ready = tmp_path / "ready.json"
    store_path = tmp_path / "telemetry.db"
    process = subprocess.Popen(
        loadgen("--url", slow_server.url, "--rate", "20", "--stats-port", "0",
                "--ready-file", str(ready), "--store", str(store_path)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        text = ""
        while "ialr_loadgen_window_availability" not in text:
            assert time.monotonic() < deadline, f"no live availability in {text!r}"
            if ready.exists():
                stats_url = json.loads(ready.read_text())["stats_url"]
                text = httpx.get(f"{stats_url}/metrics", timeout=2).text
            time.sleep(0.1)
        assert 'ialr_loadgen_window_availability{window="1s"} 1.0' in text
        assert httpx.get(f"{stats_url}/nothing", timeout=2).status_code == 404
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    summary = json.loads(out.decode().strip().splitlines()[-1])
    assert summary["completed"] == summary["scheduled"] > 0
    store = TelemetryStore(store_path, create=False)
    stored = sum(len(s.values) for s in store.points(REQUEST_SERIES, {}, 0, time.time() + 10))
    store.close()
    assert stored == summary["completed"]  # every request flushed before exit

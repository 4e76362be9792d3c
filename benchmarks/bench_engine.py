"""Engine benchmarks: guardrail abort latency and RSS/journal size during a long run.

1. Guardrail abort latency, against a real agent: an HTTP server behind an agent link, a
   guardrail HTTP probe through the link (every 20 ms, ``max_ms <= 50``) and two latency
   faults (100 ms on the probed link, 50 ms on a second link). The first sample after the
   fault breaches; we measure from the breach's detection to the last fault reverted
   (``time_to_abort_ms`` of the journal), over N aborts.
2. A long run: 20 HTTP probes at 10 Hz during a fault of S seconds (default 120); RSS of the
   engine process every second, and the journal's size.

Run: ``python -m benchmarks bench_engine`` (env ``BENCH_ENGINE_ABORTS``, ``BENCH_ENGINE_RSS_S``).
"""

from __future__ import annotations

import http.server
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
from tests.agent_fixtures import start_agent

from benchmarks import _sections as sections
from ial_resilience.agent.client import AgentClient
from ial_resilience.engine.providers.local import LocalProvider
from ial_resilience.engine.run import Run, RunOptions
from ial_resilience.spec.models import Experiment

MARK_START, MARK_END = "<!-- bench_engine:start -->", "<!-- bench_engine:end -->"


class _Quiet(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def http_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def agent(base: Path) -> Iterator[Path]:
    """A real agent on ``base/state`` (the tests' fixture); yields its state dir."""
    with start_agent(base / "state") as running:
        yield running.state_dir


def _link(state: Path, name: str, upstream_port: int) -> int:
    with AgentClient.from_state_dir(state) as client:
        snapshot = client.create_link(name, "127.0.0.1:0", f"127.0.0.1:{upstream_port}")
    return int(str(snapshot["listen"]).rsplit(":", 1)[1])


def _experiment(data: dict[str, Any]) -> Experiment:
    base = {"version": 1, "environment": "lab", "recovery": {"within": "10s", "every": "20ms"}}
    return Experiment.model_validate({**base, **data})


def abort_experiment(port: int) -> Experiment:
    url = f"http://127.0.0.1:{port}/"
    return _experiment(
        {
            "title": "bench abort",
            "targets": {"a": {"link": "a"}, "b": {"link": "b"}},
            "steady_state": [{"probe": {"http": {"url": url}}, "samples": 1, "every": "10ms"}],
            "method": [
                {"fault": "network.latency", "target": "a", "with": {"latency": "100ms"},
                 "duration": "30s"},
                {"fault": "network.latency", "target": "b", "with": {"latency": "50ms"},
                 "duration": "30s"},
            ],
            "guardrails": [
                {"probe": {"http": {"url": url, "timeout": "1s"}}, "every": "20ms",
                 "window": "1s", "tolerance": {"max_ms": "<= 50"}}
            ],
        }
    )  # fmt: skip


def run_once(experiment: Experiment, state: Path, journal: Path | None) -> dict[str, Any]:
    provider = LocalProvider.from_state_dir(state)
    try:
        options = RunOptions(state_dir=state, journal_path=journal)
        return Run(experiment, provider, options).execute().journal
    finally:
        provider.close()


def bench_aborts(n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, http_server() as port, agent(Path(tmp)) as state:
        port_a = _link(state, "a", port)
        _link(state, "b", port)
        experiment = abort_experiment(port_a)
        latencies, statuses = [], []
        for _ in range(n):
            journal = run_once(experiment, state, None)
            statuses.append(journal["status"])
            if journal["time_to_abort_ms"] is not None:
                latencies.append(float(journal["time_to_abort_ms"]))
        with AgentClient.from_state_dir(state) as client:
            left = [f for f in client.faults() if f["state"] == "active"]
    ordered = sorted(latencies)
    return {
        "aborts": len(latencies),
        "runs": n,
        "aborted": statuses.count("aborted"),
        "p50_ms": statistics.median(ordered),
        "p99_ms": ordered[min(len(ordered) - 1, round(0.99 * len(ordered)) - 1)],
        "max_ms": ordered[-1],
        "faults_left_active": len(left),
        "probe_interval_ms": 20,
    }


def long_experiment(port: int, seconds: int) -> Experiment:
    url = f"http://127.0.0.1:{port}/"
    probes = [
        {"probe": {"name": f"p{i}", "http": {"url": url}}, "every": "100ms",
         "tolerance": {"success_rate": ">= 0.9"}}
        for i in range(20)
    ]  # fmt: skip
    return _experiment(
        {
            "title": "bench long run",
            "targets": {"b": {"link": "b"}},
            "steady_state": [{"probe": {"http": {"url": url}}, "samples": 1, "every": "10ms"}],
            "method": [
                {"fault": "network.latency", "target": "b", "with": {"latency": "1ms"},
                 "duration": f"{seconds}s"}
            ],
            "probes": probes,
        }
    )  # fmt: skip


def bench_rss(seconds: int) -> dict[str, Any]:
    me = psutil.Process()
    rss: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample_rss() -> None:
        t0 = time.monotonic()
        while not stop.wait(1.0):
            rss.append((time.monotonic() - t0, me.memory_info().rss / 2**20))

    with tempfile.TemporaryDirectory() as tmp, http_server() as port, agent(Path(tmp)) as state:
        port_b = _link(state, "b", port)
        journal_path = Path(tmp) / "journal.json"
        sampler = threading.Thread(target=sample_rss, daemon=True)
        sampler.start()
        journal = run_once(long_experiment(port_b, seconds), state, journal_path)
        stop.set()
        sampler.join()
        size = journal_path.stat().st_size
    samples = sum(v["seen"] for v in journal["samples"].values())
    end_mb = rss[-1][1]
    last = [(t, mb) for t, mb in rss if t >= rss[-1][0] - 60]
    slope = statistics.linear_regression([t for t, _ in last], [mb for _, mb in last]).slope
    return {
        "seconds": seconds,
        "status": journal["status"],
        "probe_samples": samples,
        "rss_start_mb": rss[0][1],
        "rss_end_mb": end_mb,
        "rss_max_mb": max(mb for _, mb in rss),
        "rss_last_minute_mb_per_min": slope * 60,
        "rss_at_10_min_mb": end_mb + slope * max(0.0, 600 - seconds),
        "journal_bytes": size,
        "rss_series": [(round(t), round(mb, 1)) for t, mb in rss[:: max(1, len(rss) // 12)]],
    }


def render(aborts: dict[str, Any], long: dict[str, Any]) -> str:
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    series = ", ".join(f"{t}s {mb} MB" for t, mb in long["rss_series"])
    budget = 100 + aborts["probe_interval_ms"]
    a, left, slope = aborts, aborts["faults_left_active"], long["rss_last_minute_mb_per_min"]
    return f"""{MARK_START}
## Engine (`BENCH_ENGINE_RSS_S={long["seconds"]} python -m benchmarks bench_engine`, {date})

Guardrail abort latency against a real agent (2 latency faults, guardrail HTTP probe through
the faulted link every {aborts["probe_interval_ms"]} ms; from the breach's detection to the last
fault reverted), {aborts["aborts"]} aborts out of {aborts["runs"]} runs:

| p50 | p99 | max | budget (100 ms + one probe interval) | faults left active |
|---|---|---|---|---|
| {a["p50_ms"]:.1f} ms | {a["p99_ms"]:.1f} ms | {a["max_ms"]:.1f} ms | {budget} ms | {left} |

Long run: 20 HTTP probes at 10 Hz for {long["seconds"]} s ({long["probe_samples"]} samples),
status {long["status"]}. Engine RSS (whole process, measured every second):
{long["rss_start_mb"]:.1f} MB at start, {long["rss_end_mb"]:.1f} MB at the end, max
{long["rss_max_mb"]:.1f} MB; slope over the last minute {slope:+.2f} MB/min.
RSS over time: {series}. Journal: {long["journal_bytes"] / 1024:.0f} KiB.

{_ten_minutes(long)}
{MARK_END}"""


def _ten_minutes(long: dict[str, Any]) -> str:
    why = (
        "kept samples reach their cap (600 per probe) after 60 s and the per-window aggregates "
        "(≤ 120 per probe) merge instead of growing, so the journal stays about this size"
    )
    if long["seconds"] >= 600:
        return (
            f"Measured over the full 10 minutes: RSS max {long['rss_max_mb']:.1f} MB "
            f"(budget 150 MB); {why}."
        )
    return (
        f"Extrapolation to 10 minutes (not measured): {why}. Extending the last minute's slope "
        f"linearly gives ≈ {long['rss_at_10_min_mb']:.0f} MB at 10 minutes (budget 150 MB)."
    )


def main() -> int:
    aborts = bench_aborts(int(os.environ.get("BENCH_ENGINE_ABORTS", "30")))
    print(json.dumps(aborts), flush=True)
    long = bench_rss(int(os.environ.get("BENCH_ENGINE_RSS_S", "120")))
    print(json.dumps({k: v for k, v in long.items() if k != "rss_series"}), flush=True)
    sections.write_section(render(aborts, long), MARK_START, MARK_END)
    ok = aborts["p99_ms"] <= 100 + aborts["probe_interval_ms"] and aborts["faults_left_active"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

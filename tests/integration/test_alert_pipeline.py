"""``ialr alerts test`` end to end: a real service behind an agent link, canary traffic into
the store, the evaluator, an ``http.abort`` experiment run by the engine; the expected alert
fires during the fault and resolves after the revert."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ial_resilience.alerting.state import history
from ial_resilience.cli.main import main
from ial_resilience.observability.store import TelemetryStore
from tests.agent_fixtures import RunningAgent, running_agent  # noqa: F401

RULES = """\
version: 1
evaluate_every: 100ms
rules:
  - name: orders-errors
    kind: threshold
    severity: critical
    expr:
      function: ratio
      numerator: {metric: http.requests, where: {outcome: error}}
      denominator: {metric: http.requests}
      window: 1s
    op: ">"
    value: 0.3
    resolve: 0.05
  - name: orders-slow
    kind: threshold
    expr: {function: percentile, quantile: 95, metric: http.latency_ms, window: 1s}
    op: ">"
    value: 5000
"""

EXPERIMENT = """\
version: 1
title: Orders answers 503 for 2 seconds
environment: local
targets:
  api: {link: api}
steady_state:
  - probe: {http: {url: "${api}/health", timeout: 1s}}
    samples: 3
    every: 50ms
    tolerance: {success_rate: ">= 0.99"}
method:
  - fault: http.abort
    target: api
    with: {status: 503}
    duration: 2s
recovery: {within: 10s, every: 100ms}
"""

SPEC = """\
version: 1
rules: rules.yaml
experiment: experiment.yaml
warmup: 500ms
canary: {url: "${api}/orders", every: 25ms, timeout: 1s, labels: {service: orders}}
expect:
  - alert: orders-errors
    fire_within: 1500ms
    resolve_within: 3s
"""


class Orders(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"[]")

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def orders_via_link(running_agent: RunningAgent) -> Iterator[str]:  # noqa: F811
    server = ThreadingHTTPServer(("127.0.0.1", 0), Orders)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    upstream = f"127.0.0.1:{server.server_address[1]}"
    link = running_agent.client.create_link("api", "127.0.0.1:0", upstream, http=True)
    try:
        yield f"http://{link['listen']}"
    finally:
        server.shutdown()
        server.server_close()


def write_files(tmp_path: Path, spec: str) -> Path:
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "experiment.yaml").write_text(EXPERIMENT)
    (tmp_path / "spec.yaml").write_text(spec)
    return tmp_path / "spec.yaml"


def run(tmp_path: Path, spec: Path, api: str, agent: RunningAgent) -> list[str]:
    return [
        "alerts", "test", str(spec), "--var", f"api={api}", "--json",
        "--state-dir", str(agent.state_dir), "--journal", str(tmp_path / "journal.json"),
        "--store", str(tmp_path / "t.db"),
    ]  # fmt: skip


def test_the_expected_alert_fires_and_resolves(
    tmp_path: Path,
    orders_via_link: str,
    running_agent: RunningAgent,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = write_files(tmp_path, SPEC)
    code = main(run(tmp_path, spec, orders_via_link, running_agent))
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    (outcome,) = report["expectations"]
    assert outcome["passed"] and 0 <= outcome["time_to_detect_s"] <= 1.5
    assert 0 <= outcome["time_to_resolve_s"] <= 3.0
    assert report["fault_end"] - report["fault_start"] >= 2.0
    fired = [a for a in history(TelemetryStore(tmp_path / "t.db")) if a.rule == "orders-errors"]
    assert len(fired) == 1 and fired[0].resolved_at is not None
    journal = json.loads((tmp_path / "journal.json").read_text())
    (applied,) = journal["faults"][0]["evidence"]["agent_faults"]
    assert applied["requests_aborted"] > 0


def test_an_alert_that_never_fires_fails_the_test(
    tmp_path: Path,
    orders_via_link: str,
    running_agent: RunningAgent,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = write_files(
        tmp_path,
        SPEC + "  - alert: orders-slow\n    fire_within: 1s\n    resolve_within: 1s\n",
    )
    argv = [arg for arg in run(tmp_path, spec, orders_via_link, running_agent) if arg != "--json"]
    assert main(argv) == 1
    lines = capsys.readouterr().out.splitlines()
    (errors,) = [line for line in lines if "orders-errors" in line]
    (slow,) = [line for line in lines if "orders-slow" in line]
    assert "PASS" in errors and "FAIL" in slow and "—" in slow
    assert "alerts test failed (experiment passed)" in lines[-1]


def test_an_expectation_naming_no_rule_is_invalid_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_files(tmp_path, SPEC.replace("alert: orders-errors", "alert: typo"))
    assert main(["alerts", "test", str(spec), "--var", "api=http://127.0.0.1:9"]) == 3
    assert "does not define" in capsys.readouterr().err

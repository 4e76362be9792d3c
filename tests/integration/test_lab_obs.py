"""Telemetry across the lab's processes: one trace from the LB through an API replica to
PostgreSQL (and payments on a POST), the replicas' metrics in the lab's store, sampling
honoured, and the lab's `alerts test` spec run once against the session lab."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import httpx
import pytest

from ial_resilience.alerting.observe import SeriesIndex, observe
from ial_resilience.alerting.pipeline import engine_runner, run_pipeline
from ial_resilience.alerting.pipeline_spec import load_pipeline_spec
from ial_resilience.alerting.rules import load_rules
from ial_resilience.lab.telemetry import store_path
from ial_resilience.observability.store import SpanRecord, TelemetryStore
from tests.lab_fixtures import RunningLab, lab, wait_for  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(180)]
LAB_PACKAGE = Path(__file__).resolve().parents[2] / "src" / "ial_resilience" / "lab"


def _store(lab: RunningLab) -> TelemetryStore:  # noqa: F811
    return TelemetryStore(store_path(lab.state_dir), create=False)


def _traced_request(lab: RunningLab, method: str, path: str, sampled: bool = True) -> str:  # noqa: F811
    trace_id = secrets.token_hex(16)
    flags = "01" if sampled else "00"
    headers = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-{flags}"}
    body = {"item": "traced", "amount": 2.5} if method == "POST" else None
    answer = httpx.request(method, f"{lab.exports['lb']}{path}", json=body, headers=headers,
                           timeout=10)  # fmt: skip
    assert answer.status_code < 300, answer.text
    return trace_id


Kinds = set[tuple[str, str]]
SERVERS: Kinds = {("lb", "server"), ("lb", "client"), ("api", "server"), ("api", "client")}


def _spans_until(store: TelemetryStore, trace_id: str, kinds: Kinds) -> list[SpanRecord]:
    """The trace's spans once every (service, kind) of ``kinds`` is in (exports are batched)."""

    def complete() -> list[SpanRecord]:
        spans = store.spans(trace_id)
        return spans if kinds <= {(s.service, s.kind) for s in spans} else []

    return list(wait_for(complete, 20, f"spans {sorted(kinds)} in trace {trace_id}"))


def test_one_trace_crosses_lb_api_and_postgres(lab: RunningLab) -> None:  # noqa: F811
    store = _store(lab)
    trace_id = _traced_request(lab, "GET", "/orders")
    spans = _spans_until(store, trace_id, SERVERS)
    lb_client = next(s for s in spans if (s.service, s.kind) == ("lb", "client"))
    api_server = next(s for s in spans if (s.service, s.kind) == ("api", "server"))
    assert api_server.parent_id == lb_client.span_id  # the context crossed the LB's proxy
    assert any(s.attributes.get("db.system") == "postgresql" for s in spans)


def test_a_post_trace_reaches_payments_and_the_service_map_shows_the_lab(
    lab: RunningLab,  # noqa: F811
) -> None:
    store = _store(lab)
    since = time.time() - 1
    trace_id = _traced_request(lab, "POST", "/orders")
    spans = _spans_until(store, trace_id, SERVERS | {("payments", "server")})
    assert {s.trace_id for s in spans} == {trace_id}
    edges = {(e.source, e.target) for e in store.service_map(since)}
    assert {("lb", "api"), ("api", "postgresql"), ("api", "payments")} <= edges


def test_an_unsampled_request_leaves_no_spans(lab: RunningLab) -> None:  # noqa: F811
    store = _store(lab)
    unsampled = _traced_request(lab, "GET", "/orders", sampled=False)
    sampled = _traced_request(lab, "GET", "/orders")
    _spans_until(store, sampled, SERVERS)  # written after the unsampled one's would be
    assert store.spans(unsampled) == []


def test_replicas_record_request_metrics_into_the_store(lab: RunningLab) -> None:  # noqa: F811
    store = _store(lab)
    since = time.time() - 0.5
    for _ in range(5):
        assert httpx.get(f"{lab.exports['lb']}/orders", timeout=10).status_code == 200

    def recorded() -> int:
        series = store.points("http.requests", {"service": "api", "outcome": "ok"}, since,
                              time.time() + 60)  # fmt: skip
        return sum(len(s.ts) for s in series)

    wait_for(lambda: recorded() >= 5, 20, "5 http.requests points from the replicas")
    latencies = store.points("http.latency_ms", {"service": "api", "route": "/orders"}, since,
                             time.time() + 60)  # fmt: skip
    assert latencies and all(s.labels["replica"].startswith("api") for s in latencies)
    prometheus = httpx.get(f"{lab.exports['lb']}/metrics", timeout=10)
    assert "lab_api_requests_total" in prometheus.text  # /metrics kept


def test_the_control_plane_records_target_states_and_quiet_infra_rules(
    lab: RunningLab,  # noqa: F811
) -> None:
    """The LB's target states and the desired count reach the store every 0.5 s, and on the
    healthy session lab the state-based infrastructure rules do not fire."""
    store = _store(lab)
    since = time.time()

    def healthy_sample() -> bool:
        healthy = store.points("lb.targets", {"service": "api", "state": "healthy"}, since,
                               time.time() + 60)  # fmt: skip
        desired = store.points("service.replicas.desired", {"service": "api"}, since,
                               time.time() + 60)  # fmt: skip
        return bool(healthy and desired) and healthy[0].values[-1] >= desired[0].values[-1] >= 2

    wait_for(healthy_sample, 20, "lb.targets healthy >= service.replicas.desired >= 2")
    rules = load_rules(LAB_PACKAGE / "alerts.yaml")
    state_rules = {"lab-healthy-targets-below-desired", "lab-no-healthy-targets",
                   "lab-lb-telemetry-missing"}  # fmt: skip
    observed = {
        name: [seen.condition for seen in observe(rules.rule(name), SeriesIndex(store),
                                                   time.time())]
        for name in state_rules
    }  # fmt: skip
    assert not any(any(conditions) for conditions in observed.values()), observed


def test_the_lab_alerts_test_spec_fires_and_resolves(lab: RunningLab, tmp_path: Path) -> None:  # noqa: F811
    spec = load_pipeline_spec(
        LAB_PACKAGE / "alerts-test.yaml",
        {"lb": lab.exports["lb"], "telemetry": str(store_path(lab.state_dir))},
    )
    result = run_pipeline(spec, engine_runner(spec, lab.state_dir, tmp_path / "journal.json"))
    document = result.to_json()
    assert result.passed, json.dumps(document["expectations"])

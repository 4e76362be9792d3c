"""Business metrics: EMF documents parsed back, Prometheus exposition, the store, recorders."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from ial_resilience.errors import InputError
from ial_resilience.observability import metrics, recorders
from ial_resilience.observability.registry import REGISTRY
from ial_resilience.observability.store import TelemetryStore


@pytest.fixture(autouse=True)
def no_sinks() -> Iterator[None]:
    yield
    metrics.shutdown_metrics()


def test_emf_documents_follow_the_specification() -> None:
    stream = io.StringIO()
    metrics.setup_metrics(sinks=("emf",), namespace="IaL/Test", emf_stream=stream)
    metrics.count("orders.created", region="eu", tier="gold")
    metrics.timing("orders.latency", 12.5, region="eu")
    metrics.gauge("queue.depth", 3)
    created, latency, depth = (json.loads(line) for line in stream.getvalue().splitlines())
    block = created["_aws"]["CloudWatchMetrics"][0]
    assert block == {
        "Namespace": "IaL/Test",
        "Dimensions": [["region", "tier"]],
        "Metrics": [{"Name": "orders.created", "Unit": "Count"}],
    }
    assert isinstance(created["_aws"]["Timestamp"], int) and created["_aws"]["Timestamp"] > 1e12
    assert (created["region"], created["tier"], created["orders.created"]) == ("eu", "gold", 1.0)
    assert latency["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] == "Milliseconds"
    assert latency["orders.latency"] == 12.5
    assert depth["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [[]]


def test_emf_routes_the_plan_families_to_their_namespaces() -> None:
    stream = io.StringIO()
    metrics.setup_metrics(sinks=("emf",), namespace="IaL/Test", emf_stream=stream)
    metrics.count("deployment.failed", stack="api")
    metrics.count("chaos.passed", experiment="kill-one")
    metrics.gauge("resilience.score", 87.5)
    metrics.count("orders.created")
    namespaces = [
        json.loads(line)["_aws"]["CloudWatchMetrics"][0]["Namespace"]
        for line in stream.getvalue().splitlines()
    ]
    assert namespaces == ["IaL/Business", "IaL/Chaos", "IaL/Resilience", "IaL/Test"]


def test_emf_publishes_the_extra_dimension_sets_slo_alarms_select_by() -> None:
    stream = io.StringIO()
    sets = {"http.requests": (("service",), ("service", "outcome"), ("zone",))}
    metrics.setup_metrics(sinks=("emf",), emf_stream=stream, dimension_sets=sets)
    metrics.count("http.requests", service="api", outcome="error")
    metrics.count("other.metric", service="api")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    # the point's own set first, then each extra set it can fill; ("zone",) it cannot
    assert first["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [
        ["service", "outcome"],
        ["service"],
    ]
    assert second["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]


def test_prometheus_exposition_and_dimension_mismatch_counted() -> None:
    metrics.setup_metrics(sinks=("prometheus",))
    metrics.count("prom.orders", 2, region="eu")
    metrics.timing("prom.latency", 40.0, region="eu")
    metrics.gauge("prom.depth", 5.0)
    before = (
        REGISTRY.get_sample_value(
            "ialr_telemetry_metric_drops_total", {"sink": "prometheus", "reason": "record_failed"}
        )
        or 0.0
    )
    metrics.count("prom.orders", 1, zone="a")  # other dimensions than the first call
    text = generate_latest(REGISTRY).decode()
    assert 'prom_orders_total{region="eu"} 2.0' in text
    assert 'prom_latency_ms_count{region="eu"} 1.0' in text
    assert "prom_depth 5.0" in text
    after = REGISTRY.get_sample_value(
        "ialr_telemetry_metric_drops_total", {"sink": "prometheus", "reason": "record_failed"}
    )
    assert after == before + 1


def test_store_sink_and_recorders(tmp_path: Path) -> None:
    store = TelemetryStore(tmp_path / "t.db")
    metrics.setup_metrics(sinks=("store",), store=store)
    recorders.deployment("00c", recorders.DeploymentStatus.STARTED)
    recorders.deployment("00c", recorders.DeploymentStatus.SUCCEEDED, duration_s=1.5)
    recorders.deployment("00d", recorders.DeploymentStatus.FAILED, region="eu")
    recorders.validation("cfn-lint", passed=False)
    recorders.rollback("00d", reason="alarm")
    recorders.chaos_result("db-latency", "passed", time_to_recover_s=0.25)
    metrics.flush()
    assert store.metric_names() == {
        "deployment.started",
        "deployment.succeeded",
        "deployment.duration",
        "deployment.failed",
        "validation.failed",
        "rollback.count",
        "chaos.passed",
        "chaos.time_to_recover",
    }
    (duration,) = store.points("deployment.duration", {"stack": "00c"}, 0, 2e9)
    assert list(duration.values) == [1500.0]
    (failed,) = store.points("deployment.failed", {}, 0, 2e9)
    assert dict(failed.labels) == {"stack": "00d", "region": "eu"}


def test_no_sink_is_a_no_op_and_bad_sinks_are_refused() -> None:
    metrics.count("nothing.configured")  # no sinks: nothing happens, nothing raises
    with pytest.raises(InputError, match="unknown metric sink"):
        metrics.setup_metrics(sinks=("statsd",))
    with pytest.raises(InputError, match="needs a store"):
        metrics.setup_metrics(sinks=("store",))

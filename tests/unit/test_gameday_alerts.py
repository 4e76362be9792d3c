"""The lab's alert rules and alerts test spec load; the lab telemetry helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from ial_resilience.alerting.pipeline_spec import load_pipeline_spec
from ial_resilience.alerting.rules import BurnRateRule, ThresholdRule, load_rules
from ial_resilience.cli.main import main
from ial_resilience.lab import telemetry

LAB = Path(telemetry.__file__).parent


def test_the_lab_rules_validate_with_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts", "validate", str(LAB / "alerts.yaml")]) == 0
    assert "OK" in capsys.readouterr().out


def test_the_lab_rules_are_scaled_and_use_the_replicas_metrics() -> None:
    rules = load_rules(LAB / "alerts.yaml")
    assert rules.metrics() == {"http.requests", "http.latency_ms", "payments.charges"}
    burn = rules.rule("lab-availability-burn")
    assert isinstance(burn, BurnRateRule)
    assert [round(w.long) for w in burn.scaled_windows()] == [36, 216]
    latency = rules.rule("lab-latency-p95")
    assert isinstance(latency, ThresholdRule)
    assert latency.resolve_threshold() < latency.value  # hysteresis


def test_the_lab_alerts_test_spec_names_rules_of_the_lab_file() -> None:
    spec = load_pipeline_spec(
        LAB / "alerts-test.yaml", {"lb": "http://127.0.0.1:1", "telemetry": "/tmp/t.db"}
    )
    names = {r.name for r in load_rules(spec.path(spec.rules)).rules}
    assert {e.alert for e in spec.expect} <= names
    assert spec.path(spec.experiment).is_file()


@pytest.mark.parametrize(
    ("path", "route"),
    [("/orders", "/orders"), ("/orders/17", "/orders/{id}"), ("/", "/"), ("/a/b/c", "/a/{id}")],
)
def test_route_labels_have_bounded_cardinality(path: str, route: str) -> None:
    assert telemetry.route_of(path) == route


@pytest.mark.parametrize(
    ("raw", "ratio"), [("", 0.2), ("0.5", 0.5), ("1", 1.0), ("2", 0.2), ("x", 0.2)]
)
def test_sample_ratio_from_the_environment(raw: str, ratio: float) -> None:
    assert telemetry.sample_ratio({telemetry.SAMPLE_ENV: raw}) == ratio


def test_no_store_means_no_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(telemetry.STORE_ENV, raising=False)
    assert telemetry.setup("api", with_metrics=True) is telemetry.OFF

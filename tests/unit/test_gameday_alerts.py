"""The lab's alert rules and alerts test spec load; the lab telemetry helpers."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from ial_resilience.alerting.pipeline_spec import load_pipeline_spec
from ial_resilience.alerting.rules import BurnRateRule, ThresholdRule, load_rules
from ial_resilience.alerting.state import FiredAlert, history
from ial_resilience.cli.main import main
from ial_resilience.gameday import alerts as gameday_alerts
from ial_resilience.gameday.report import alerts_html
from ial_resilience.gameday.runner import alert_watch, alerts_block
from ial_resilience.lab import telemetry
from ial_resilience.observability.store import Point, TelemetryStore

LAB = Path(telemetry.__file__).parent


def test_the_lab_rules_validate_with_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts", "validate", str(LAB / "alerts.yaml")]) == 0
    assert "OK" in capsys.readouterr().out


def test_the_lab_rules_are_scaled_and_use_the_replicas_metrics() -> None:
    rules = load_rules(LAB / "alerts.yaml")
    assert rules.metrics() == {
        "http.requests", "http.latency_ms", "payments.charges", "lb.targets",
        "service.replicas.desired", "service.restarts", "db.failovers",
    }  # fmt: skip
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


# -- the game day's alert judgement ------------------------------------------------------------
def _journal(start: float, applied: float, reverted_t: float, end: float) -> dict[str, Any]:
    return {
        "schema": "ialr.journal/1",
        "run_id": f"run-{start:g}",
        "started_at": start,
        "ended_at": end,
        "faults": [{"fault": "dependency.outage", "target": "payments-link", "applied": True,
                    "applied_at": applied, "reverted_t": reverted_t}],
    }  # fmt: skip


def _fired(rule: str, at: float, resolved: float | None) -> FiredAlert:
    return FiredAlert(rule, {"rule": rule}, "warning", at, resolved)


def test_per_experiment_alerts_carry_time_to_detect_and_resolve() -> None:
    journal = _journal(100.0, 105.0, 13.0, 130.0)  # fault 105 → 113
    alerts = [_fired("a", 107.5, 116.0), _fired("b", 50.0, 60.0), _fired("c", 125.0, None),
              _fired("d", 135.0, 140.0)]  # fmt: skip
    seen = gameday_alerts.per_experiment(journal, alerts, until=132.0)  # next one starts
    assert [a["rule"] for a in seen] == ["a", "c"]
    assert [a["rule"] for a in gameday_alerts.per_experiment(journal, alerts)] == ["a", "c", "d"]
    assert seen[0]["time_to_detect_s"] == pytest.approx(2.5)
    assert seen[0]["time_to_resolve_s"] == pytest.approx(3.0)
    assert seen[1]["resolved_at"] is None and seen[1]["time_to_resolve_s"] is None


def test_day_accuracy_counts_detections_and_false_positives_for_any_rule() -> None:
    journals = [_journal(100.0, 110.0, 15.0, 140.0), _journal(140.0, 160.0, 25.0, 200.0)]
    rules = load_rules(LAB / "alerts.yaml")
    alerts = [
        _fired("lab-payments-degraded", 112.0, 120.0),  # detects the first window
        _fired("lab-latency-p95", 150.0, 151.0),  # a quiet period between the windows
    ]
    scored = gameday_alerts.day_accuracy(rules, alerts, journals, grace=5.0)
    overall = scored["overall"]
    assert (overall["windows"], overall["detected"]) == (2, 1)
    assert overall["quiet_alerted"] == 1
    assert overall["false_positive_rate"] == pytest.approx(1 / overall["quiet_periods"])
    kpis = gameday_alerts.kpis(scored)
    assert kpis["alert_accuracy"] == overall["accuracy"]
    assert kpis["alert_false_positive_rate_met"] is False
    assert {r["rule"] for r in scored["rules"]} >= {r.name for r in rules.rules}


def test_no_evaluation_gives_unknown_kpis_not_met_ones() -> None:
    kpis = gameday_alerts.kpis(None)
    assert kpis["alert_accuracy"] is None and kpis["alert_accuracy_met"] is None


def test_alert_watch_evaluates_a_store_and_returns_what_fired(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "version: 1\nrules:\n  - name: errors\n    kind: threshold\n"
        "    expr: {function: count, metric: http.requests, where: {outcome: error}, window: 5s}\n"
        '    op: ">"\n    value: 0\n',
        encoding="utf-8",
    )
    path = tmp_path / "t.db"
    store = TelemetryStore(path)
    watch = gameday_alerts.AlertWatch(rules, path, interval=0.05).start()
    store.write_points([Point("http.requests", 1.0, {"outcome": "error"}, time.time())])
    wait_until = time.monotonic() + 10
    while not history(store, since=watch.started_at) and time.monotonic() < wait_until:
        time.sleep(0.05)
    fired = watch.stop()
    store.close()
    assert [a.rule for a in fired] == ["errors"] and watch.rounds >= 1 and not watch.errors


def test_the_report_html_shows_the_alert_table_and_kpis() -> None:
    block = {
        "evaluated": True, "rules": "alerts.yaml", "store": "t.db", "rounds": 3, "fired": [],
        "accuracy": gameday_alerts.day_accuracy(
            load_rules(LAB / "alerts.yaml"), [], [_journal(1.0, 2.0, 3.0, 9.0)]
        ),
    }  # fmt: skip
    html = alerts_html(block)
    assert "lab-availability-burn" in html and gameday_alerts.ANY_RULE in html
    assert "not evaluated" in alerts_html({"evaluated": False, "reason": "no store"})


def test_a_lab_without_a_telemetry_store_is_reported_not_evaluated(tmp_path: Path) -> None:
    assert alert_watch(tmp_path) is None
    block = alerts_block(None, [], [])
    assert block["evaluated"] is False and "telemetry" in block["reason"]


def test_the_bundled_lab_points_its_services_at_its_store(tmp_path: Path) -> None:
    system = (LAB / "system.yaml").read_text(encoding="utf-8")
    assert system.count('IALR_TELEMETRY_STORE: "${lab_dir}/telemetry.db"') == 3
    assert telemetry.store_path(tmp_path) == tmp_path / "lab" / "telemetry.db"


# --- the infrastructure rules (ALB target group, ECS service, Aurora) on a simulated lab ------
INFRA_RULES = {
    "lab-healthy-targets-below-desired", "lab-no-healthy-targets", "lab-replica-restarted",
    "lab-replica-crash-loop", "lab-db-failover", "lab-lb-telemetry-missing",
}  # fmt: skip
DAY_S = 40.0


def _lab_points(
    t0: float,
    healthy: Any = lambda t: 2,
    desired: Any = lambda t: 2,
    samples_until: float = DAY_S,
) -> list[Point]:
    """What a lab writes: the control plane's gauges every 0.5 s and healthy traffic."""
    points: list[Point] = []
    for step in range(int(DAY_S * 2)):
        t = step * 0.5
        at = t0 + t
        if t < samples_until:
            points += [
                Point("lb.targets", float(healthy(t)), {"service": "api", "state": "healthy"}, at),
                Point("lb.targets", 0.0, {"service": "api", "state": "unhealthy"}, at),
                Point("service.replicas.desired", float(desired(t)), {"service": "api"}, at),
            ]
        for _ in range(5):  # 10 requests/s, all fine
            points.append(Point("http.requests", 1.0, {"service": "api", "outcome": "ok"}, at))
            points.append(Point("http.latency_ms", 20.0, {"service": "api"}, at))
        points.append(Point("payments.charges", 1.0, {"service": "api", "outcome": "charged"}, at))
    return points


def _fired_rules(tmp_path: Path, points: list[Point], t0: float) -> set[str]:
    """Every rule of the lab file that fired while the evaluator ran every 0.5 s over the day."""
    from ial_resilience.alerting.evaluator import Evaluator

    store = TelemetryStore(tmp_path / "lab.db")
    store.write_points(points)
    evaluator = Evaluator(load_rules(LAB / "alerts.yaml"), store)
    fired: set[str] = set()
    for step in range(2, int(DAY_S * 2)):
        fired |= {a.rule for a in evaluator.evaluate(now=t0 + step * 0.5).firing()}
    store.close()
    return fired


def test_the_lab_rules_stay_quiet_on_a_healthy_lab(tmp_path: Path) -> None:
    t0 = time.time() - 100
    assert _fired_rules(tmp_path, _lab_points(t0), t0) == set()


def test_an_ordinary_scale_out_is_not_an_alert(tmp_path: Path) -> None:
    t0 = time.time() - 100  # desired 3 at 10 s; the new target is healthy 2 s later
    points = _lab_points(
        t0, healthy=lambda t: 3 if t >= 12 else 2, desired=lambda t: 3 if t >= 10 else 2
    )
    assert _fired_rules(tmp_path, points, t0) == set()


def test_a_dead_replica_restarted_is_a_ticket_not_a_page(tmp_path: Path) -> None:
    t0 = time.time() - 100  # one of two targets out for 5 s, the supervisor restarted it
    points = _lab_points(t0, healthy=lambda t: 1 if 10 <= t < 15 else 2)
    points.append(Point("service.restarts", 1.0, {"service": "api", "replica": "api-1"}, t0 + 10.3))
    fired = _fired_rules(tmp_path, points, t0)
    assert fired == {"lab-healthy-targets-below-desired", "lab-replica-restarted"}
    rules = load_rules(LAB / "alerts.yaml")
    assert {rules.rule(name).severity.value for name in fired} == {"warning"}


def test_no_healthy_target_pages(tmp_path: Path) -> None:
    t0 = time.time() - 100
    points = _lab_points(t0, healthy=lambda t: 0 if 10 <= t < 20 else 2)
    fired = _fired_rules(tmp_path, points, t0) & INFRA_RULES
    assert fired == {"lab-no-healthy-targets", "lab-healthy-targets-below-desired"}


def test_three_restarts_of_one_replica_are_a_crash_loop(tmp_path: Path) -> None:
    t0 = time.time() - 100
    points = _lab_points(t0)
    points += [
        Point("service.restarts", 1.0, {"service": "api", "replica": "api-2"}, t0 + 10 + 3 * i)
        for i in range(3)
    ]
    fired = _fired_rules(tmp_path, points, t0)
    assert fired == {"lab-replica-restarted", "lab-replica-crash-loop"}


def test_a_database_failover_is_an_alert(tmp_path: Path) -> None:
    t0 = time.time() - 100
    labels = {"service": "db", "old_writer": "db-primary", "new_writer": "db-replica"}
    points = [*_lab_points(t0), Point("db.failovers", 1.0, labels, t0 + 10)]
    assert _fired_rules(tmp_path, points, t0) == {"lab-db-failover"}


def test_the_control_plane_going_silent_pages(tmp_path: Path) -> None:
    t0 = time.time() - 100
    points = _lab_points(t0, samples_until=20.0)
    assert _fired_rules(tmp_path, points, t0) == {"lab-lb-telemetry-missing"}

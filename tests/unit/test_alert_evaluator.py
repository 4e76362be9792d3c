"""Each rule kind against synthetic series with known answers; grouping, dedup, silences."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from ial_resilience.alerting.evaluator import Evaluator, Round
from ial_resilience.alerting.functions import nearest_rank, robust_z
from ial_resilience.alerting.outbox import Outbox
from ial_resilience.alerting.rules import RuleFile, load_rules
from ial_resilience.alerting.state import Change, add_silence, history
from ial_resilience.errors import StoreError
from ial_resilience.observability.store import Point, TelemetryStore

T0 = 1_700_000_000.0


class Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.sent: list[dict[str, object]] = []

    def send(self, payload: dict[str, object]) -> None:
        self.sent.append(payload)


def rules_of(tmp_path: Path, body: str, head: str = "") -> RuleFile:
    path = tmp_path / "rules.yaml"
    path.write_text(f"version: 1\n{head}rules:\n{body}")
    return load_rules(path)


@pytest.fixture
def store(tmp_path: Path) -> TelemetryStore:
    return TelemetryStore(tmp_path / "t.db")


def changes(evaluator: Evaluator, times: range, t0: float = T0) -> list[tuple[int, str, str]]:
    seen = []
    for t in times:
        for alert, change in evaluator.evaluate(now=t0 + t).changes:
            if change is not Change.NONE:
                seen.append((t, alert.rule, change.value))
    return seen


def test_threshold_with_for_and_hysteresis(tmp_path: Path, store: TelemetryStore) -> None:
    # gauge: 10 until t=100, 100 until t=200, then 30 (between resolve 20 and value 50), then 5
    points = []
    for t in range(0, 400):
        value = 10.0 if t < 100 else 100.0 if t < 200 else 30.0 if t < 300 else 5.0
        points.append(Point("queue.depth", value, {}, T0 + t))
    store.write_points(points)
    rules = rules_of(
        tmp_path,
        "  - {name: deep, kind: threshold, op: '>', value: 50, resolve: 20, for: 10s,\n"
        "     expr: {function: value, metric: queue.depth, window: 5s}}\n",
    )
    seen = changes(Evaluator(rules, store), range(0, 400, 5))
    # pending from t=100, fires once held 10 s; stays firing at 30 (hysteresis); resolves at 5
    assert seen == [(110, "deep", "fired"), (300, "deep", "resolved")]


def test_burn_rate_needs_both_windows(tmp_path: Path, store: TelemetryStore) -> None:
    # 10 requests/s; 50 % errors during [600, 660): a short burst
    points = []
    for t in range(300, 720):
        for i in range(10):
            bad = 600 <= t < 660 and i < 5
            points.append(Point("req", 1.0, {"outcome": "error" if bad else "ok"}, T0 + t))
    store.write_points(points)
    rules = rules_of(
        tmp_path,
        "  - name: slo\n    kind: burn_rate\n    objective: 0.99\n"
        "    good: {metric: req, where: {outcome: ok}}\n    total: {metric: req}\n"
        "    windows: [{long: 5m, short: 30s, factor: 14.4}]\n",
    )
    seen = changes(Evaluator(rules, store), range(590, 720))
    # short (30 s) burn is 50 at once, long (5 m) reaches 14.4 when errors ≥ 0.144·300·10 =
    # 432 = 5 per s × 86.4 s → t=600+87=687 > 660 never; so with these numbers: long error
    # ratio peaks at 300/3000 = 0.1 → burn 10 < 14.4: no alert although the short one burns
    assert seen == []
    rules2 = rules_of(
        tmp_path,
        "  - name: slo\n    kind: burn_rate\n    objective: 0.99\n"
        "    good: {metric: req, where: {outcome: ok}}\n    total: {metric: req}\n"
        "    windows: [{long: 5m, short: 30s, factor: 6}]\n",
    )
    store2 = TelemetryStore(tmp_path / "t2.db")
    store2.write_points(points)
    seen = changes(Evaluator(rules2, store2), range(590, 720))
    # long burn ≥ 6 ⇔ errors in 5 m ≥ 0.06·3000 = 180 = 5/s × 36 s: t = 600…635 → 635;
    # resolves when the short window (30 s) holds fewer than 6 % errors: 30 s × 10 × 0.06 = 18
    # errors ⇔ at most 3 s of burst (657…659) in (t-30, t] → t = 686
    assert seen == [(635, "slo", "fired"), (686, "slo", "resolved")]


def test_anomaly_on_a_spike_not_on_noise(tmp_path: Path, store: TelemetryStore) -> None:
    noise = random.Random(7)
    points = [Point("lat", 100.0 + noise.uniform(0, 5), {}, T0 + t) for t in range(0, 600)]
    points += [Point("lat", 180.0, {}, T0 + t) for t in range(600, 620)]
    store.write_points(points)
    rules = rules_of(
        tmp_path,
        "  - {name: spike, kind: anomaly, baseline: 5m, deviations: 4,\n"
        "     expr: {function: mean, metric: lat, window: 10s}}\n",
    )
    seen = changes(Evaluator(rules, store), range(300, 625, 5))
    assert seen == [(600, "spike", "fired")]  # the first spike point is in the window


def test_absence_fires_after_silence(tmp_path: Path, store: TelemetryStore) -> None:
    store.write_points(
        [Point("beat", 1.0, {"host": h}, T0 + t) for t in range(0, 100) for h in ("a", "b")]
    )
    store.write_points([Point("beat", 1.0, {"host": "a"}, T0 + t) for t in range(100, 200)])
    rules = rules_of(
        tmp_path, "  - {name: gone, kind: absence, metric: beat, by: [host], for: 30s}\n"
    )
    evaluator = Evaluator(rules, store)
    seen = changes(evaluator, range(90, 200, 10))
    assert seen == [(130, "gone", "fired")]
    (alert,) = [a for a in evaluator.evaluate(now=T0 + 150).alerts if a.firing]
    assert alert.labels["host"] == "b" and alert.value == pytest.approx(51.0)


def test_grouping_dedup_repeat_and_state_survives_a_restart(
    tmp_path: Path, store: TelemetryStore
) -> None:
    store.write_points(
        [Point("errs", 5.0, {"service": s}, T0 + t) for t in range(0, 100) for s in ("a", "b")]
    )
    rules = rules_of(
        tmp_path,
        "  - {name: errors, kind: threshold, by: [service], op: '>', value: 1,\n"
        "     expr: {function: value, metric: errs, window: 10s}}\n",
        head="repeat_interval: 30s\ngroup_by: [rule]\n",
    )
    recorder = Recorder()
    first = Evaluator(rules, store, Outbox(store, [recorder]))
    first.evaluate(now=T0 + 10)
    assert len(recorder.sent) == 1  # one group (rule) with both services
    assert sorted(a["labels"]["service"] for a in recorder.sent[0]["alerts"]) == ["a", "b"]
    first.evaluate(now=T0 + 20)
    assert len(recorder.sent) == 1  # deduplicated
    restarted = Evaluator(rules, store, Outbox(store, [recorder]))
    restarted.evaluate(now=T0 + 35)
    assert len(recorder.sent) == 1  # state (last notified) came from the store
    restarted.evaluate(now=T0 + 41)
    assert len(recorder.sent) == 2  # repeat interval passed
    assert len(history(store)) == 2  # two alerts fired, each once


def test_silenced_alert_is_quiet_but_its_resolution_is_sent(
    tmp_path: Path, store: TelemetryStore
) -> None:
    store.write_points([Point("errs", 5.0 if t < 50 else 0.0, {}, T0 + t) for t in range(100)])
    rules = rules_of(
        tmp_path,
        "  - {name: errors, kind: threshold, op: '>', value: 1,\n"
        "     expr: {function: value, metric: errs, window: 5s}}\n",
    )
    add_silence(store, {"rule": "errors"}, 40.0, comment="maintenance", now=T0)
    recorder = Recorder()
    evaluator = Evaluator(rules, store, Outbox(store, [recorder]))
    for t in range(5, 80, 5):
        evaluator.evaluate(now=T0 + t)
    assert [n["status"] for n in recorder.sent] == ["firing", "resolved"]
    # silence ends at 40: the still-firing alert is notified then; the value drops at 50
    assert [n["sent_at"] for n in recorder.sent] == [T0 + 40, T0 + 50]
    recorder.sent.clear()
    add_silence(store, {"rule": "errors"}, 1000.0, now=T0 + 80)
    store.write_points([Point("errs", 9.0, {}, T0 + t) for t in range(100, 110)])
    for t in range(100, 130, 5):
        evaluator.evaluate(now=T0 + t)
    assert [n["status"] for n in recorder.sent] == ["resolved"]


def test_robust_statistics() -> None:
    assert nearest_rank([5, 1, 3, 2, 4], 50) == 3
    assert nearest_rank([1, 2, 3, 4], 95) == 4
    assert nearest_rank([], 95) is None
    assert robust_z(10, [1, 2, 3, 4, 5]) == pytest.approx(7 / 1.4826)
    assert robust_z(3, [3, 3, 3]) == 0.0
    assert robust_z(4, [3, 3, 3]) == float("inf")


def test_anomaly_direction_below_ignores_a_spike_up(tmp_path: Path, store: TelemetryStore) -> None:
    noise = random.Random(3)
    points = [Point("lat", 100.0 + noise.uniform(0, 5), {}, T0 + t) for t in range(0, 600)]
    points += [Point("lat", 180.0, {}, T0 + t) for t in range(600, 620)]
    points += [Point("lat", 20.0, {}, T0 + t) for t in range(620, 640)]
    store.write_points(points)
    rules = rules_of(
        tmp_path,
        "  - {name: drop, kind: anomaly, baseline: 5m, deviations: 4, direction: below,\n"
        "     expr: {function: mean, metric: lat, window: 10s}}\n",
    )
    assert changes(Evaluator(rules, store), range(300, 640, 5)) == [(625, "drop", "fired")]


def test_a_firing_alert_whose_series_vanished_resolves(
    tmp_path: Path, store: TelemetryStore
) -> None:
    store.write_points([Point("errs", 5.0, {"service": "a"}, T0 + t) for t in range(10)])
    rules = rules_of(
        tmp_path,
        "  - {name: errors, kind: threshold, by: [service], op: '>', value: 1,\n"
        "     expr: {function: value, metric: errs, window: 1m}}\n",
    )
    evaluator = Evaluator(rules, store)
    assert changes(evaluator, range(10, 11)) == [(10, "errors", "fired")]
    store.query("DELETE FROM points")
    store.query("DELETE FROM series")
    assert changes(evaluator, range(20, 21)) == [(20, "errors", "resolved")]
    (episode,) = history(store)
    assert episode.resolved_at == T0 + 20


class _BusyOnce(Evaluator):
    """A real evaluator whose first round meets a busy store."""

    failed = False

    def evaluate(self, now: float | None = None) -> Round:
        if not self.failed:
            self.failed = True
            raise StoreError("database is locked")
        return super().evaluate(now)


def test_run_hands_a_failed_round_to_on_error_and_goes_on(
    tmp_path: Path, store: TelemetryStore
) -> None:
    rule = "  - {name: deep, kind: threshold, op: '>', value: 50,\n"
    rule += "     expr: {function: value, metric: queue.depth, window: 5s}}\n"
    rules = rules_of(tmp_path, rule)
    stop = threading.Event()
    errors: list[str] = []
    rounds: list[object] = []

    def counted(result: object) -> None:
        rounds.append(result)
        if len(rounds) == 2:
            stop.set()

    _BusyOnce(rules, store).run(
        stop, interval=0.01, on_round=counted, on_error=lambda e: errors.append(e.message)
    )
    assert errors == ["database is locked"] and len(rounds) == 2
    with pytest.raises(StoreError):  # without on_error the error ends the loop
        _BusyOnce(rules, store).run(threading.Event(), interval=0.01)

"""``alerts accuracy`` on synthetic journals and alerts with exactly known answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ial_resilience.alerting.accuracy import read_journals, score
from ial_resilience.alerting.state import FiredAlert, record_fired
from ial_resilience.cli.main import main
from ial_resilience.observability.store import TelemetryStore

RULES = """\
version: 1
rules:
  - name: lat
    kind: threshold
    annotations: {faults: "network.*"}
    expr: {function: mean, metric: http.latency_ms, window: 10s}
    op: ">"
    value: 100
  - name: all
    kind: threshold
    expr: {function: rate, metric: http.errors, window: 10s}
    op: ">"
    value: 1
"""


def journal(run: str, started: float, fault: str, applied: float, reverted_t: float) -> dict:
    return {
        "schema": "ialr.journal/1",
        "run_id": run,
        "started_at": started,
        "ended_at": started + 200,
        "faults": [
            {
                "fault": fault,
                "target": "t",
                "applied": True,
                "applied_at": applied,
                "reverted_t": reverted_t,
                "duration_s": 999,
            },
            {"fault": fault, "target": "t", "applied": False},
        ],
    }


@pytest.fixture
def journals(tmp_path: Path) -> Path:
    directory = tmp_path / "journals"
    directory.mkdir()
    for name, document in {
        "r1": journal("r1", 1000, "network.latency", 1050, 100),  # window 1050-1100
        "r2": journal("r2", 2000, "process.kill", 2050, 80),  # window 2050-2080
        "r3": journal("r3", 3000, "network.loss", 3050, 100),  # window 3050-3100
    }.items():
        (directory / f"{name}.json").write_text(json.dumps(document))
    (directory / "notes.json").write_text('{"not": "a journal"}')
    return directory


ALERTS = [
    FiredAlert("lat", {}, "warning", 1060, 1070),  # true, detects r1 after 10 s
    FiredAlert("lat", {}, "warning", 2060, 2070),  # during process.kill: not judged
    FiredAlert("lat", {}, "warning", 2500, 2510),  # false, in a quiet period
    FiredAlert("all", {}, "warning", 1055, None),
    FiredAlert("all", {}, "warning", 2051, None),
    FiredAlert("all", {}, "warning", 3052, None),
]


def test_windows_from_journals(journals: Path) -> None:
    windows, coverage = read_journals(journals)
    assert [(w.fault, w.start, w.end) for w in windows] == [
        ("network.latency", 1050, 1100),
        ("process.kill", 2050, 2080),
        ("network.loss", 3050, 3100),
    ]
    assert coverage is not None and (coverage.start, coverage.end) == (1000, 3200)
    assert len(read_journals(journals, since=1500)[0]) == 2


def test_exact_scores(journals: Path) -> None:
    windows, coverage = read_journals(journals)
    lat, every = score({"lat": "network.*", "all": None}, ALERTS, windows, coverage, grace=10)[::-1]
    assert (lat.alerts, lat.true_alerts, lat.windows, lat.detected) == (2, 1, 2, 1)
    assert lat.precision == 0.5 and lat.recall == 0.5
    # quiet: 1000-1050, 1110-2050, 2090-3050, 3110-3200; 2500 falls in the third
    assert (lat.quiet_periods, lat.quiet_alerted) == (4, 1)
    assert lat.false_positive_rate == 0.25
    assert lat.accuracy == pytest.approx(4 / 6)
    assert lat.times_to_detect == (10.0,) and not lat.meets_kpis()
    assert (every.precision, every.recall, every.false_positive_rate, every.accuracy) == (
        1.0,
        1.0,
        0.0,
        1.0,
    )
    assert every.times_to_detect == (5.0, 1.0, 2.0) and every.meets_kpis()


def test_cli_accuracy_json_and_exit_code(
    journals: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = TelemetryStore(tmp_path / "t.db")
    for alert in ALERTS:
        record_fired(store, alert)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    argv = [
        "alerts",
        "accuracy",
        "--journals",
        str(journals),
        "--store",
        str(tmp_path / "t.db"),
        "--rules",
        str(rules),
        "--grace",
        "10s",
    ]
    assert main([*argv, "--json"]) == 1  # "lat" misses the KPIs
    document = json.loads(capsys.readouterr().out)
    by_rule = {r["rule"]: r for r in document["rules"]}
    assert by_rule["lat"]["precision"] == 0.5 and by_rule["lat"]["false_positive_rate"] == 0.25
    assert by_rule["all"]["meets_kpis"] is True and document["windows"] == 3
    assert main(argv) == 1
    text = capsys.readouterr().out
    assert "lat" in text and "50.0%" in text and "accuracy > 90%" in text


def test_cli_accuracy_missing_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts", "accuracy", "--journals", str(tmp_path / "none")]) == 3
    assert "no journal directory" in capsys.readouterr().err
    (tmp_path / "j").mkdir()
    code = main(
        [
            "alerts",
            "accuracy",
            "--journals",
            str(tmp_path / "j"),
            "--store",
            str(tmp_path / "missing.db"),
        ]
    )
    assert code == 5
    assert "no telemetry store" in capsys.readouterr().err


def test_cli_accuracy_records_the_overall_accuracy_in_the_history(
    journals: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ial_resilience.alerting.accuracy import score_overall
    from ial_resilience.history import HistoryStore, RecordKind

    store = TelemetryStore(tmp_path / "t.db")
    for alert in ALERTS:
        record_fired(store, alert)
    argv = [
        "alerts",
        "accuracy",
        "--journals",
        str(journals),
        "--store",
        str(tmp_path / "t.db"),
        "--grace",
        "10s",
        "--json",
    ]
    main(argv)
    capsys.readouterr()
    windows, coverage = read_journals(journals)
    expected = score_overall(ALERTS, windows, coverage, grace=10.0)
    with HistoryStore.open() as history:
        (recorded,) = history.records(kind=RecordKind.ALERT_ACCURACY)
    assert recorded.figures["accuracy"] == expected.accuracy
    assert recorded.figures["windows"] == expected.windows > 0

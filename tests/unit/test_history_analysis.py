"""KPIs, the resilience score and the analyzer, on histories built record by record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ial_resilience.cli.main import main
from ial_resilience.history import HistoryStore, Record, RecordKind
from ial_resilience.history.analyze import analyze
from ial_resilience.history.kpis import kpis
from ial_resilience.history.score import FAMILIES, resilience_score

NOW = 1_790_000_000.0
DAY = 86400.0


def run(i: int, *, key: str = "db-failover", passed: bool = True, ttr: float | None = 2.0,
        age_days: float = 0.0, family: str = "db", parent: str | None = None,
        alerts: int | None = None) -> Record:  # fmt: skip
    data: dict[str, object] = {"families": [family], "faults": [f"{family}.x"], "reason": "r"}
    if alerts is not None:
        data["alerts_fired"] = alerts
    return Record(
        f"{key}-{i}", RecordKind.CHAOS_RUN, key, key.replace("-", " "),
        "passed" if passed else "deviated", NOW - age_days * DAY - 1000 + i, None,
        parent_id=parent,
        figures={"passed": passed, "time_to_recover_s": ttr, "faults": 1, "landed": True},
        data=data,
    )  # fmt: skip


def by_name(records: list[Record]) -> dict[str, object]:
    return {k.name: k for k in kpis(records, NOW)}


def test_kpis_say_not_enough_data_rather_than_a_number() -> None:
    found = by_name([run(1), run(2)])
    rate = found["chaos_pass_rate"]
    assert rate.value is None and rate.met is None and "not enough data" in rate.note
    assert rate.sample_size == 2


def test_kpis_from_runs_game_days_drills_backups_and_rollouts() -> None:
    records = [run(i, passed=i != 0, ttr=float(i + 1)) for i in range(6)]
    records.append(Record("day", RecordKind.GAMEDAY, "quick", "quick", "passed", NOW - 100,
                          figures={"requests": 10000, "failed_requests": 5}))  # fmt: skip
    records.append(Record("drill", RecordKind.RECOVERY_DRILL, "writer-lost", "w", "passed",
                          NOW - 50, figures={"rto_s": 1200.0}))  # fmt: skip
    records.append(Record("b", RecordKind.BACKUP, "dir:x", "b", "passed", NOW - 10,
                          figures={"success": True}, data={"action": "backup"}))  # fmt: skip
    found = by_name(records)
    assert found["chaos_pass_rate"].value == pytest.approx(5 / 6)
    assert found["chaos_pass_rate"].met is False  # target > 95 %
    assert found["mttr"].value == pytest.approx(3.5) and found["mttr"].met is True
    assert found["uptime"].value == pytest.approx(0.9995) and found["uptime"].met is True
    assert found["recovery_time"].value == 1200.0 and found["recovery_time"].met is False
    assert found["backup_success"].value == 1.0 and found["backup_success"].met is True
    assert found["rollback_success"].value is None


def test_old_results_leave_the_kpi_window() -> None:
    found = by_name([run(i, age_days=40) for i in range(6)])
    assert found["chaos_pass_rate"].sample_size == 0


def test_score_parts_and_staleness_decay() -> None:
    fresh = resilience_score([run(i, family=f) for i, f in enumerate(FAMILIES)], NOW)
    assert fresh.value is not None and [p.name for p in fresh.parts] == [
        "outcomes", "recovery", "coverage"]  # fmt: skip
    outcomes, recovery, coverage = (p.value for p in fresh.parts)
    assert outcomes == 1.0 and coverage == 1.0
    assert recovery == pytest.approx(1 / (1 + 2 / 60))
    assert fresh.value == pytest.approx(round(100 * (0.5 + 0.2 * recovery + 0.3), 1))
    # a failure two weeks ago counts a quarter of a failure today
    old_fail = resilience_score([run(1), run(2, passed=False, age_days=14)], NOW)
    new_fail = resilience_score([run(1, age_days=14), run(2, passed=False)], NOW)
    assert old_fail.parts[0].value == pytest.approx(1 / 1.25)
    assert new_fail.parts[0].value == pytest.approx(0.25 / 1.25)
    assert resilience_score([], NOW).value is None


def test_a_rising_recovery_time_is_a_regression_from_the_run_where_it_started() -> None:
    records = [run(i, ttr=t) for i, t in enumerate([2.0, 2.2, 1.9, 2.1, 2.0, 6.0, 6.3, 5.9, 6.1])]
    result = analyze(records, NOW)
    (change,) = [c for c in result.change_points if c.figure == "time_to_recover_s"]
    assert change.worse and change.record_id == "db-failover-5"
    assert change.p_value < 0.05 and change.relative > 1.5
    texts = [r.text for r in result.recommendations]
    assert any("time_to_recover_s of 'db failover' rising" in t and "db-failover-5" in t
               for t in texts)  # fmt: skip
    trend = next(t for t in result.trends if t.figure == "time_to_recover_s")
    assert trend.first == 2.0 and trend.last == 6.1


def test_steady_figures_have_no_change_point() -> None:
    records = [run(i, ttr=t) for i, t in enumerate([2.0, 2.2, 1.9, 2.1, 2.0, 2.05, 1.95, 2.1])]
    assert analyze(records, NOW).change_points == []


def test_recommendations_cite_their_evidence() -> None:
    silent = [run(i, key="kill-one-replica", family="process", parent="day", alerts=0)
              for i in range(3)]  # fmt: skip
    failing = [run(i, key="payments-outage", passed=False, family="dependency") for i in range(3)]
    result = analyze([*silent, *failing], NOW)
    by_text = {r.text: r for r in result.recommendations}
    invisible = [t for t in by_text if "no alert fired" in t]
    assert invisible and "add an infrastructure alert" in invisible[0]
    assert [e["record_id"] for e in by_text[invisible[0]].evidence] == [r.id for r in silent]
    deviating = [t for t in by_text if "did not pass in 3 of its last 3" in t]
    assert deviating and by_text[deviating[0]].severity == "critical"
    assert any("no experiment in the history exercises" in t for t in by_text)


def _history(tmp_path: Path, records: list[Record]) -> Path:
    path = tmp_path / "h.db"
    with HistoryStore.open(path) as store:
        store.add_many(records)
    return path


def test_cli_kpis_score_analyze_and_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import time

    now = time.time()
    records = [
        Record(f"r{i}", RecordKind.CHAOS_RUN, "x", "x", "passed", now - 100 + i,
               figures={"passed": True, "time_to_recover_s": 1.0 + (5 * (i >= 5))},
               data={"families": ["network"]})
        for i in range(10)
    ]  # fmt: skip
    path = str(_history(tmp_path, records))
    assert main(["kpis", "--history", path, "--json"]) == 0
    document = {k["name"]: k for k in json.loads(capsys.readouterr().out)}
    assert document["chaos_pass_rate"]["value"] == 1.0 and document["mttr"]["sample_size"] == 10
    assert main(["score", "--history", path, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["value"] > 0
    assert main(["analyze", "--history", path, "--json"]) == 1  # the TTR regression
    assert json.loads(capsys.readouterr().out)["regressions"][0]["record_id"] == "r5"
    assert main(["history", "list", "--history", path, "--limit", "3"]) == 0
    assert "3 of 10 results" in capsys.readouterr().out
    assert main(["history", "show", "r3", "--history", path]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == "r3"
    assert main(["history", "show", "nope", "--history", path]) == 3
    assert "no result with id 'nope'" in capsys.readouterr().err
    assert main(["history", "list", "--kind", "bogus", "--history", path]) == 3
    exported = tmp_path / "out.json"
    assert main(["history", "export", "--history", path]) == 0
    exported.write_text(capsys.readouterr().out)
    assert len(json.loads(exported.read_text())) == 10


def test_cli_a_corrupt_history_is_exit_5_and_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "h.db"
    path.write_text("not a database " * 50)
    assert main(["kpis", "--history", str(path)]) == 5
    assert "not a usable history file" in capsys.readouterr().err
    assert path.read_text() == "not a database " * 50

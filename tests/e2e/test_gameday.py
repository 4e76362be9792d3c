"""``ialr gameday --quick`` end to end: a real lab, real traffic, real faults, report.json/html.

One run (≈ 1–2 minutes: the lab starts, three experiments, the lab stops); every assertion
reads the report it wrote.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(330)]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gameday(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("gameday")
    state = base / "state"
    output = base / "report"
    command = [sys.executable, "-m", "ial_resilience.cli.main", "gameday", "--quick",
               "--output", str(output), "--state-dir", str(state)]  # fmt: skip
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "IALR_STATE_DIR": str(state)},
    )  # fmt: skip
    assert (output / "report.json").exists(), done.stdout[-3000:] + done.stderr[-3000:]
    report: dict[str, Any] = json.loads((output / "report.json").read_text())
    return {"report": report, "done": done, "output": output, "state": state}


def experiment(report: dict[str, Any], stem: str) -> dict[str, Any]:
    found = [e for e in report["experiments"] if Path(e["file"]).stem == stem]
    assert found, f"no {stem} in {[e['file'] for e in report['experiments']]}"
    return found[0]


def test_exit_code_is_the_worst_status_and_the_summary_names_the_report(
    gameday: dict[str, Any],
) -> None:
    report, done = gameday["report"], gameday["done"]
    assert done.returncode == report["kpis"]["exit_code"] == report["exit_code"]
    assert len(report["experiments"]) == 3
    assert str(gameday["output"] / "report.html") in done.stdout
    assert report["duration_s"] <= 90.0  # the whole command, the lab's start included


def test_the_killed_replica_was_restarted_and_traffic_recovered_in_budget(
    gameday: dict[str, Any],
) -> None:
    kill = experiment(gameday["report"], "kill-one-replica")
    killed = kill["findings"]["killed"][0]
    assert killed["exit_observed"] is True and killed["pids"]
    assert kill["findings"]["restarts"] >= 1  # the supervisor restarted it
    journal = json.loads(Path(kill["journal"]).read_text())
    assert journal["recovery"]["recovered"] is True
    assert kill["time_to_recover_s"] is not None
    assert kill["time_to_recover_s"] <= kill["recovery_within_s"]
    availability = [a for a in kill["timeline"]["availability"] if a is not None]
    assert availability[-1] == 1.0  # users are served again at the end


def test_failover_rto_seen_by_users_is_measured_positive_and_bounded(
    gameday: dict[str, Any],
) -> None:
    failover = experiment(gameday["report"], "db-failover")
    rto = failover["findings"]["failover_users_rto_s"]
    assert rto is not None, "users never got a success after the failover"
    assert 0.0 < rto <= 10.0
    assert failover["faults"][0]["evidence"]  # promotion facts from the control plane


def test_the_breaker_opened_during_the_payments_outage_and_closed_after(
    gameday: dict[str, Any],
) -> None:
    outage = experiment(gameday["report"], "payments-outage")
    breaker = outage["findings"]["breaker"]
    assert breaker["opened"] is True
    assert breaker["closed_after"] is True


def test_every_fault_shows_evidence_that_it_landed(gameday: dict[str, Any]) -> None:
    for e in gameday["report"]["experiments"]:
        assert e["findings"]["every_fault_landed"] is True, e["title"]
        assert all(f["evidence"] for f in e["faults"]), e["title"]


def test_every_experiment_started_on_a_whole_lab(gameday: dict[str, Any]) -> None:
    for e in gameday["report"]["experiments"]:
        before = e["findings"]["lab_before"]
        assert before["leftover_faults"] == [], e["title"]  # the engine reverted every fault
        assert before["whole"] is True, (e["title"], before["problems"])


def test_the_html_holds_every_experiments_chart_and_data(gameday: dict[str, Any]) -> None:
    html = (gameday["output"] / "report.html").read_text()
    report = gameday["report"]
    assert "<script src" not in html and "https://" not in html
    assert html.count("<svg") == len(report["experiments"])
    match = re.search(r'<script type="application/json" id="gameday-data">(.*?)</script>', html)
    assert match is not None
    charts = json.loads(match.group(1))["experiments"]
    for e in report["experiments"]:
        chart = charts[str(e["index"])]
        assert sum(chart["timeline"]["requests"]) > 0
        assert [f["fault"] for f in chart["faults"]] == [f["fault"] for f in e["faults"]]
    assert len(html.encode()) < 2_000_000
    journals = sorted((gameday["output"] / "journals").glob("*.json"))
    assert len(journals) == len(report["experiments"])


def test_the_lab_started_by_the_game_day_was_stopped(gameday: dict[str, Any]) -> None:
    from ial_resilience.lab import Lab

    assert gameday["report"]["lab"]["started_by_gameday"] is True
    assert not Lab(gameday["state"]).is_running()


def test_alerts_were_evaluated_all_day_and_scored_against_the_journals(
    gameday: dict[str, Any],
) -> None:
    report = gameday["report"]
    alerts, kpis = report["alerts"], report["kpis"]
    assert alerts["evaluated"] is True and alerts["rounds"] > 20 and not alerts["round_errors"]
    assert alerts["accuracy"]["fault_windows"] == 3
    assert kpis["alert_accuracy"] == alerts["accuracy"]["overall"]["accuracy"]
    assert kpis["alert_accuracy_target"] == 0.9
    assert kpis["alert_false_positive_rate_target"] == 0.05
    for key in ("alert_accuracy_met", "alert_false_positive_rate_met"):
        assert key in kpis


def test_the_payments_outage_paged_and_the_page_cleared(gameday: dict[str, Any]) -> None:
    outage = experiment(gameday["report"], "payments-outage")
    paged = [a for a in outage["alerts"] if a["rule"] == "lab-payments-degraded"]
    assert paged, outage["alerts"]
    assert (
        0.0
        < paged[0]["time_to_detect_s"]
        <= outage["faults"][0]["end"] - outage["faults"][0]["start"]
    )
    assert paged[0]["time_to_resolve_s"] is not None and paged[0]["time_to_resolve_s"] > 0.0
    html = (gameday["output"] / "report.html").read_text()
    assert "lab-payments-degraded fired" in html  # marked on the timeline

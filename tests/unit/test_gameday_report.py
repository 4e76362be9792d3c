"""Game-day KPIs, timelines, findings and the report builder, on journals with known answers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ial_resilience.engine.model import RunStatus
from ial_resilience.errors import ExitCode, InputError
from ial_resilience.gameday import kpis as kpis_mod
from ial_resilience.gameday.charts import latency_scale
from ial_resilience.gameday.outcome import ExperimentOutcome, breaker_findings, build_outcome
from ial_resilience.gameday.report import build_report, check_writable, render_html, write_report
from ial_resilience.gameday.timeline import Request, bucket_width, build_timeline, users_rto
from ial_resilience.lab.loadgen_record import Outcome
from ial_resilience.observability.store import TelemetryStore

T0 = 1_800_000_000.0


def journal(
    title: str,
    status: str,
    *,
    fault: str = "process.kill",
    applied_t: float = 2.0,
    reverted_t: float = 7.0,
    ttr: float | None = 1.5,
    breach_t: float | None = None,
    samples: dict[str, Any] | None = None,
    evidence: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "experiment": {"title": title, "file": f"{title}.yaml"},
        "status": status,
        "reason": f"{title} {status}",
        "started_at": T0,
        "ended_at": T0 + 12.0,
        "plan": {"recovery_within_s": 10.0},
        "faults": [
            {
                "fault": fault,
                "target": "t",
                "applied": True,
                "applied_at": T0 + applied_t,
                "reverted_t": reverted_t,
                "landed": True,
                "revert_reason": "duration-ended",
                "evidence": evidence or {},
            }
        ],
        "guardrail_breach": None if breach_t is None else {"detected_t": breach_t},
        "recovery": {"within_s": 10.0},
        "time_to_recover_s": ttr,
        "samples": samples or {},
    }


def traffic(errors_between: tuple[float, float] | None = None) -> list[Request]:
    """10 req/s for 12 s from T0 (every 5th a write); failed inside ``errors_between``."""
    requests = []
    for i in range(120):
        offset = i / 10
        failed = errors_between is not None and errors_between[0] <= offset < errors_between[1]
        latency = 500.0 if failed else 10.0 + i % 10
        requests.append(Request(T0 + offset, not failed, latency, write=i % 5 == 4))
    return requests


def outcome(index: int, status: str, **kwargs: Any) -> ExperimentOutcome:
    errors = kwargs.pop("errors", None)
    return build_outcome(index, journal(f"exp{index}", status, **kwargs), "j.json", traffic(errors))


def test_pass_rate_mttr_availability_and_exit_code() -> None:
    outcomes = [
        outcome(1, "passed", ttr=1.0),
        outcome(2, "passed", ttr=3.0),
        outcome(3, "deviated", ttr=None, errors=(3.0, 5.0)),
        outcome(4, "aborted", ttr=None, breach_t=3.0),
    ]
    result = kpis_mod.kpis(outcomes, day_ok=900, day_total=1000)
    assert result["chaos_pass_rate"] == 0.5
    assert result["mttr_s"] == {"exp1": 1.0, "exp2": 3.0, "exp3": None, "exp4": None}
    assert result["mttr_mean_s"] == 2.0
    assert result["mttr_worst_s"] == 3.0
    assert result["not_recovered"] == ["exp3"]  # exp4 was aborted, not a recovery failure
    assert result["availability"] == 0.9
    assert result["worst_status"] == "aborted"
    assert result["exit_code"] == ExitCode.ABORTED
    assert result["by_status"] == {"passed": 2, "deviated": 1, "aborted": 1}
    # faults active from +2 s to +7 s: 5 one-second buckets, 50 requests; exp3 failed 20 of them
    ok, total = kpis_mod.during_faults(outcomes[2])
    assert (ok, total) == (30, 50)


@pytest.mark.parametrize(
    ("statuses", "code"),
    [
        (["passed", "passed"], ExitCode.PASSED),
        (["passed", "inconclusive"], ExitCode.INCONCLUSIVE),
        (["inconclusive", "deviated"], ExitCode.DEVIATED),
        (["error", "aborted"], ExitCode.PROVIDER_ERROR),
        ([], ExitCode.PROVIDER_ERROR),
    ],
)
def test_the_worst_status_decides_the_exit_code(statuses: list[str], code: ExitCode) -> None:
    assert kpis_mod.exit_code([RunStatus(s) for s in statuses]) == code


def test_timeline_buckets_are_exact_and_bounded() -> None:
    timeline = build_timeline(traffic((3.0, 5.0)), T0, T0 + 12.0)
    assert timeline.width == 1.0
    assert len(timeline.buckets) == 12
    assert [b.requests for b in timeline.buckets] == [10] * 12
    assert timeline.buckets[3].availability == 0.0
    assert timeline.buckets[2].availability == 1.0
    assert timeline.buckets[2].p50_ms == 14.0  # nearest rank of 10..19
    assert timeline.buckets[3].p95_ms == 500.0
    assert bucket_width(3600.0) == 16.0  # ≤ 240 buckets for an hour
    long = build_timeline([], T0, T0 + 3600.0)
    assert len(long.buckets) <= 240


def test_users_rto_until_errors_end_and_a_write_succeeds() -> None:
    requests = traffic((3.0, 5.0))
    # event at +2.5 s; last failure scheduled at +4.9 s; next success at +5.0 s taking 10 ms
    assert users_rto(requests, T0 + 2.5) == pytest.approx(2.51, abs=1e-6)
    # no failure: the first write after +0.1 s is request 4 (+0.4 s, 14 ms)
    assert users_rto(traffic(), T0 + 0.1) == pytest.approx(0.314, abs=1e-6)
    # errors end at +0.616 s (request 6), but the first write after the event is request 9
    # (+0.9 s, 19 ms): users could write again only 0.469 s after it
    assert users_rto(traffic((0.5, 0.6)), T0 + 0.45) == pytest.approx(0.469, abs=1e-6)
    assert users_rto(traffic((3.0, 99.0)), T0) is None
    assert users_rto([Request(T0, True, 5.0)], T0) is None  # no write: cannot say


def test_findings_breaker_failover_and_kill_evidence() -> None:
    def samples(values: list[float]) -> dict[str, Any]:
        return {"samples": [{"t": float(i), "value": v} for i, v in enumerate(values)]}

    breaker = {
        "steady_state[1] breaker api-1": samples([0, 0, 0, 0]),
        "probes[2] breaker api-1": samples([0, 0, 2, 2, 1]),
    }
    found = breaker_findings({"samples": breaker})
    assert found == {
        "opened": True,
        "opened_after_s": 2.0,
        "closed_after": True,
        "samples_during": 5,
    }
    stuck = {**breaker, "steady_state[1] breaker api-1": samples([0, 2])}
    assert breaker_findings({"samples": stuck})["closed_after"] is False  # type: ignore[index]
    failover = build_outcome(
        1, journal("f", "passed", fault="db.failover", applied_t=2.5), "j", traffic((3.0, 5.0))
    )
    assert failover.findings["failover_users_rto_s"] == pytest.approx(2.51, abs=1e-6)
    # the failover began (evidence started_at) before the apply returned: errors between the
    # two belong to it
    slow = journal("f", "passed", fault="db.failover", applied_t=3.5)
    slow["faults"][0]["evidence"] = {"started_at": T0 + 2.9}
    slow_outcome = build_outcome(1, slow, "j", traffic((3.0, 3.4)))
    assert slow_outcome.faults[0].start == T0 + 2.9
    # last failure at +3.3 s, next success at +3.4 s answered in 14 ms: 3.414 - 2.9
    assert slow_outcome.findings["failover_users_rto_s"] == pytest.approx(0.514, abs=1e-6)
    kill = outcome(2, "passed", evidence={"agent_faults": [{"pid": 42, "exit_observed": True}]})
    assert kill.findings["killed"] == [
        {"target": "t", "pids": [42], "exit_observed": True, "respawned_pids": []}
    ]
    assert kill.findings["every_fault_landed"] is True
    assert kill.recovered_at == pytest.approx(T0 + 7.0 + 1.5)


def test_report_json_and_self_contained_html(tmp_path: Path) -> None:
    outcomes = [
        outcome(1, "passed", ttr=1.0),
        outcome(2, "deviated", ttr=None, errors=(3.0, 5.0), breach_t=4.0),
    ]
    kpis = kpis_mod.kpis(outcomes, 200, 240)
    report = build_report(outcomes, kpis, {"title": "T </script><b>", "started_at": T0})
    json_path, html_path = write_report(tmp_path, report, outcomes)
    loaded = json.loads(json_path.read_text())
    assert loaded["schema"] == "ialr.gameday/1"
    assert loaded["exit_code"] == ExitCode.DEVIATED
    assert [e["status"] for e in loaded["experiments"]] == ["passed", "deviated"]
    assert loaded["experiments"][1]["abort_at"] == T0 + 4.0
    html = html_path.read_text()
    assert "<script src" not in html and "http://" not in html and "https://" not in html
    assert html.count("<svg") == 2 and html.count('class="fault"') == 2
    assert html.count('class="abort"') == 1 and html.count('class="recovered"') == 1
    assert html.count('class="errors"') == 2  # exp2 failed in 2 one-second buckets
    assert "T &lt;/script&gt;&lt;b&gt;" in html  # escaped
    match = re.search(r'<script type="application/json" id="gameday-data">(.*?)</script>', html)
    assert match is not None
    data = json.loads(match.group(1))
    assert set(data["experiments"]) == {"1", "2"}
    assert data["experiments"]["2"]["timeline"]["availability"][3] == 0.0
    assert json_path.stat().st_mode & 0o777 == 0o644


def test_report_size_for_a_long_game_day_stays_small() -> None:
    requests = [Request(T0 + i / 50, i % 97 != 0, 10.0 + i % 13) for i in range(50 * 360)]
    outcomes = []
    for index in range(12):
        j = journal(f"e{index}", "passed")
        j["started_at"], j["ended_at"] = T0 + index * 30, T0 + index * 30 + 30
        inside = [r for r in requests if j["started_at"] <= r.ts < j["ended_at"]]
        outcomes.append(build_outcome(index, j, "j", inside))
    report = build_report(outcomes, kpis_mod.kpis(outcomes, 1, 1), {"title": "x"})
    html = render_html(report, outcomes)
    assert len(html.encode()) < 2_000_000
    assert len(json.dumps(report)) < 2_000_000


def test_unwritable_report_directory_is_invalid_input(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="not writable") as caught:
        check_writable(blocker / "reports")
    assert caught.value.exit_code == ExitCode.INVALID_INPUT
    assert "--output" in caught.value.hint


def test_timeline_reads_the_load_generators_records_from_the_store(tmp_path: Path) -> None:
    from ial_resilience.gameday.timeline import read_requests

    store = TelemetryStore(tmp_path / "t.db")
    points = [
        Outcome(T0 + i, 0.1, 5.0 + i, "GET", "/orders", "200" if i % 2 else "503").point()
        for i in range(6)
    ]
    store.write_points(points)
    found = read_requests(store, T0 - 1, T0 + 10)
    store.close()
    assert [r.ok for r in found] == [False, True] * 3
    assert [r.latency_ms for r in found] == [5.0, 6.0, 7.0, 8.0, 9.0, 10.0]


def test_latency_axis_rounds_up() -> None:
    assert latency_scale([None, 3.0]) == 10.0
    assert latency_scale([130.0]) == 200.0
    assert latency_scale([2001.0]) == 5000.0


def test_a_system_without_control_plane_has_no_fleet_to_wait_for() -> None:
    from ial_resilience.gameday.labcheck import fleet_problems

    assert fleet_problems(None) == ()
    assert fleet_problems("http://127.0.0.1:9") == ("the control plane does not answer",)

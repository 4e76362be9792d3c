"""``ialr dashboard``: view models, the app's pages and JSON, and the CLI's refusals.

The history behind them is the real store of INTERFACES §8; figures that come from the
analysis (score, recommendations, KPIs) are compared with what ``ial_resilience.history``
computes for the same records, so these tests stay about the web layer.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ial_resilience import history as results
from ial_resilience.cli.main import main
from ial_resilience.dashboard import model, render
from ial_resilience.dashboard.app import build_app
from ial_resilience.dashboard.source import DashboardData, history_backend
from ial_resilience.history import Record, RecordKind
from ial_resilience.history.kpis import kpis
from ial_resilience.history.score import resilience_score

JOURNAL = Path(__file__).parent.parent / "data" / "journal_deviated.json"
DAY = 86400.0
NOW = time.time()


@pytest.fixture
def history(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "history.db"
    monkeypatch.setenv("IALR_HISTORY", str(path))
    yield path


def _records(count: int, journal: Path | None = None) -> list[Record]:
    found = []
    for i in range(count):
        status = "deviated" if i % 4 == 3 else "passed"
        found.append(
            Record(
                id=f"run-{i:03d}",
                kind=RecordKind.CHAOS_RUN,
                key="catalog-latency" if i % 2 else "db-kill",
                title=f"experiment {i}",
                status=status,
                started_at=NOW - (count - i) * DAY,
                ended_at=NOW - (count - i) * DAY + 30.0,
                source=str(journal) if journal and i == count - 1 else None,
                figures={"passed": status == "passed", "time_to_recover_s": 1.0 + i},
            )
        )
    return found


def _write(path: Path, records: list[Record]) -> None:
    with results.HistoryStore.open(path) as store:
        store.add_many(records)


class _Client:
    """Requests straight into the ASGI app (httpx's ASGI transport), one at a time."""

    def __init__(self, path: Path) -> None:
        self.data = DashboardData(history_backend(path))
        self.app = build_app(self.data)

    def request(self, method: str, url: str, **options: object) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            base = "http://127.0.0.1:8765"
            async with httpx.AsyncClient(transport=transport, base_url=base) as client:
                return await client.request(method, url, **options)  # type: ignore[arg-type]

        return asyncio.run(send())

    def get(self, url: str, **options: object) -> httpx.Response:
        return self.request("GET", url, **options)

    def post(self, url: str) -> httpx.Response:
        return self.request("POST", url)


def _client(path: Path) -> _Client:
    return _Client(path)


# -- view models --------------------------------------------------------------------------------
def test_runs_view_lists_newest_first_counts_statuses_and_filters_kind() -> None:
    records = _records(8)
    drill = Record("drill-1", RecordKind.RECOVERY_DRILL, "pitr", "drill", "failed", 5.0, 6.0)
    view = model.runs_view([*records, drill], limit=3)
    assert view["total"] == 9 and view["shown"] == 3
    assert [r["id"] for r in view["runs"]] == ["run-007", "run-006", "run-005"]
    assert view["statuses"] == {"deviated": 2, "failed": 1, "passed": 6}
    assert view["kinds"] == ["chaos_run", "recovery_drill"]
    only = model.runs_view([*records, drill], kind="recovery_drill")
    assert [r["id"] for r in only["runs"]] == ["drill-1"] and only["runs"][0]["duration_s"] == 1


def test_journal_timeline_has_fault_windows_probe_samples_and_fault_events() -> None:
    journal = json.loads(JOURNAL.read_text())
    timeline = model.journal_timeline(journal)
    assert [(w.fault, w.landed) for w in timeline.faults] == [("network.latency", True)]
    window = timeline.faults[0]
    assert window.end is not None and window.end - window.start == pytest.approx(4.0, abs=0.1)
    seen = {label: data["seen"] for label, data in journal["samples"].items()}
    assert {label: t.requests for label, t in timeline.probes.items()} == seen
    assert [e["kind"] for e in timeline.events] == ["fault-applied", "fault-reverted"]
    assert timeline.to_json()["faults"][0]["revert_reason"] == "duration-ended"


def test_read_journal_says_why_it_has_no_timeline(tmp_path: Path) -> None:
    assert model.read_journal(None) == (None, "this record names no journal file")
    missing = tmp_path / "gone.json"
    assert "cannot read" in str(model.read_journal(str(missing))[1])
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "schema": ')
    journal, why = model.read_journal(str(broken))
    assert journal is None and str(why).startswith(f"{broken}:2: not JSON")


def test_score_trend_counts_only_runs_ended_by_each_point() -> None:
    records = _records(10)
    calls: list[tuple[int, float]] = []

    def score(chosen: object, now: float) -> dict[str, float]:
        assert isinstance(chosen, list)
        calls.append((len(chosen), now))
        return {"value": 10.0 * len(chosen)}

    trend = model.score_trend(records, score, points=4)
    assert [t["runs"] for t in trend] == [1, 4, 7, 10]
    assert [t["value"] for t in trend] == [10.0, 40.0, 70.0, 100.0]
    assert trend[0]["at"] == records[0].ended_at and trend[-1]["at"] == records[-1].ended_at
    assert model.score_trend([], score) == []


# -- the app ------------------------------------------------------------------------------------
def test_pages_draw_one_bar_per_run_one_point_per_trend_step_and_the_timeline(
    history: Path,
) -> None:
    records = _records(12, JOURNAL)
    _write(history, records)
    client = _client(history)
    chaos = client.get("/chaos")
    assert chaos.status_code == 200 and "Server-Timing" in chaos.headers
    assert chaos.text.count('<rect class="bar') == 12
    assert 'href="http' not in chaos.text and "<script" not in chaos.text  # nothing external
    run = client.get("/chaos/run/run-011")
    assert run.status_code == 200
    assert run.text.count('<rect class="fault"') == 2  # the fault window on each probe's chart
    assert run.text.count('<polyline class="avail"') == 2
    assert "fault-applied" in run.text
    no_journal = client.get("/chaos/run/run-000")
    assert "No timeline: this record names no journal file" in no_journal.text
    score = client.get("/score")
    assert score.text.count('<circle class="pt"') == model.TREND_POINTS
    expected = resilience_score(records, time.time()).value
    assert expected is not None
    assert re.search(rf"<div class=big id=score>{expected:.1f}</div>", score.text)
    insights = client.get("/insights")
    # experiment "catalog-latency" deviated in 3 of its last 5 runs: the analyzer's finding
    assert "did not pass in 3 of its last 5" in insights.text
    assert 'href="/chaos/run/run-011"' in insights.text  # its evidence, linked
    every = kpis(records, time.time())
    assert insights.text.count('<rect class="bar') == len(every) == 8  # one per KPI
    assert insights.text.count("not enough data") >= sum(k.value is None for k in every)
    assert "not enough data" in insights.text


def test_api_endpoints_are_the_view_models_and_read_only(history: Path) -> None:
    five = _records(5, JOURNAL)
    _write(history, five)
    client = _client(history)
    runs = client.get("/api/runs", params={"limit": 2}).json()
    assert runs["total"] == 5 and [r["id"] for r in runs["runs"]] == ["run-004", "run-003"]
    one = client.get("/api/runs/run-004").json()
    assert one["timeline"]["faults"][0]["fault"] == "network.latency"
    expected = resilience_score(five, time.time()).value
    assert client.get("/api/score").json()["value"] == pytest.approx(expected)
    insights = client.get("/api/insights").json()
    assert [k["name"] for k in insights["kpis"]] == [k.name for k in kpis(five, time.time())]
    assert client.get("/api/runs/nope").status_code == 404
    assert client.post("/api/runs").status_code == 405
    rebound = client.get("/api/runs", headers={"Host": "evil.example:8765"})
    assert rebound.status_code == 400  # DNS rebinding: only loopback names are served
    assert client.get("/").headers["location"] == "/chaos"


def test_changes_are_read_in_the_background_and_a_corrupt_store_answers_503(
    history: Path,
) -> None:
    _write(history, _records(2))
    client = _client(history)
    assert client.get("/api/runs").json()["total"] == 2  # the first snapshot: built at once
    _write(history, [Record("late", RecordKind.CHAOS_RUN, "k", "late", "passed", 9e6, 9e6 + 1)])
    meanwhile = client.get("/chaos")  # served from the previous snapshot while it rebuilds
    assert meanwhile.headers["X-Dashboard-Stale"] == "1" and 'id="stale"' in meanwhile.text
    assert meanwhile.text.count('<rect class="bar') == 2
    assert client.data.wait_idle(10.0)
    fresh = client.get("/api/runs")
    assert fresh.json()["total"] == 3 and "X-Dashboard-Stale" not in fresh.headers
    history.write_bytes(b"no longer a database " * 200)  # a corrupt file: never reset
    client.get("/api/runs")  # starts the rebuild, which fails
    assert client.data.wait_idle(10.0)
    for _ in range(2):  # every request says so until the file changes
        broken = client.get("/api/score")
        error = broken.json()["error"]
        assert broken.status_code == 503 and "not a usable history file" in error
    page = client.get("/chaos")
    assert page.status_code == 503 and str(history) in page.text


# -- the CLI ------------------------------------------------------------------------------------
def test_help_teaches_views_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--help"]) == 0
    out = capsys.readouterr().out
    for word in ("/chaos", "/score", "/insights", "--allow-remote", "--aws-setup", "port in use"):
        assert word in out


def test_non_loopback_host_is_refused_without_allow_remote(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["dashboard", "--host", "0.0.0.0", "--port", "0"]) == 4
    err = capsys.readouterr().err
    assert "--host 0.0.0.0 would serve the dashboard beyond this machine" in err
    assert "--allow-remote" in err


def test_port_in_use_names_the_port_and_suggests_port_0(
    history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["dashboard", "--port", str(port)]) == 3
    err = capsys.readouterr().err
    assert f"port {port} on 127.0.0.1 is already in use" in err and "--port 0" in err


def test_corrupt_history_fails_before_serving_with_the_store_error(
    history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history.write_text("garbage\n")
    assert main(["dashboard", "--port", "0", "--history", str(history)]) == 5
    err = capsys.readouterr().err
    assert f"{history} is not a usable history file" in err and "Hint:" in err


def test_dry_run_needs_aws_setup(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--dry-run"]) == 3
    assert "--dry-run only goes with --aws-setup" in capsys.readouterr().err


def test_journal_fixture_is_a_real_run_journal(tmp_path: Path) -> None:
    copy = shutil.copy(JOURNAL, tmp_path / "j.json")
    journal, why = model.read_journal(str(copy))
    assert why is None and journal is not None and journal["schema"] == "ialr.journal/1"


def test_kpi_bars_are_as_long_as_the_value_on_a_rate_or_target_axis() -> None:
    assert render.kpi_scale(0.75, "> 0.95") == (0.75, 0.95)  # a rate, 0–1
    assert render.kpi_scale(900.0, "< 1800") == (0.25, 0.5)  # seconds: target mid-axis
    assert render.kpi_scale(5400.0, "< 1800") == (1.0, 0.5)  # capped at twice the target
    assert render.kpi_scale(None, ">= 0.999") == (0.0, 0.999)
    svg = render.kpi_svg([{"name": "uptime", "value": 0.5, "target": ">= 0.999", "met": False,
                           "sample_size": 3}])  # fmt: skip
    assert 'class="bar error" data-kpi="uptime" x="170" y="4" width="280.0"' in svg


def test_a_journal_missing_a_field_gives_a_note_not_an_error(tmp_path: Path) -> None:
    journal = json.loads(JOURNAL.read_text())
    del journal["faults"][0]["applied_at"]
    path = tmp_path / "j.json"
    path.write_text(json.dumps(journal))
    record = Record("r", RecordKind.CHAOS_RUN, "k", "t", "passed", 1.0, 2.0, source=str(path))
    view, timeline = model.run_view(record)
    assert timeline is None and view["timeline"] is None
    assert (
        view["timeline_note"] == f"{path}: a fault or sample lacks a field (KeyError('applied_at'))"
    )
    assert "lacks a field" in render.run_page(view, timeline, "h")

"""``ialr observe cost --report``: every figure from the phases and the one price table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ial_resilience.aws import phases
from ial_resilience.aws.cfn import Template
from ial_resilience.aws.cost_report import build_report, render_markdown
from ial_resilience.aws.obs_costs import PRICE_FILE
from ial_resilience.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def _copy(tmp_path: Path, **prices: float) -> Path:
    table = json.loads(PRICE_FILE.read_text())
    table["prices"].update(prices)
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(table))
    return path


def test_the_checked_in_report_is_what_the_command_renders() -> None:
    expected = render_markdown(build_report())
    assert (ROOT / "docs" / "COST_OPTIMIZATION.md").read_text() == expected, (
        "run: ialr observe cost --report > docs/COST_OPTIMIZATION.md"
    )


def test_every_registered_phase_is_priced_resource_by_resource() -> None:
    report = build_report()
    assert set(report.phases) == set(phases.PHASES)
    dashboards = [ln for ln in report.lines if ln.type == "AWS::CloudWatch::Dashboard"]
    assert dashboards and all(ln.monthly == 3.0 for ln in dashboards)
    assert report.total == pytest.approx(sum(report.phase_total(p) for p in report.phases))


def test_a_changed_price_in_the_table_changes_the_report(tmp_path: Path) -> None:
    before = build_report()
    after = build_report(_copy(tmp_path, cloudwatch_dashboard_month=4.0))
    dashboards = sum(1 for ln in before.lines if ln.type == "AWS::CloudWatch::Dashboard")
    assert after.total - before.total == pytest.approx(dashboards * 1.0)


def test_savings_carry_their_effect_and_the_sampling_one_halves_the_recorded_traces() -> None:
    data = build_report().to_json()
    by_what = {s["what"]: s for s in data["savings"]}
    sampling = by_what["trace sampling ratio"]
    # 20 M requests: 10 % writes at 0.2 and 60 % others at 0.05 → 1 M traces ($5); halving the
    # catch-all gives 0.7 M ($3.50).
    assert sampling["monthly_before_usd"] == 5.0 and sampling["monthly_after_usd"] == 3.5
    assert data["savings_total_usd"] == pytest.approx(
        sum(s["saves_usd_per_month"] for s in data["savings"]), abs=0.02
    )
    assert data["monthly_total_after_savings_usd"] < data["monthly_total_usd"]


def test_log_retention_and_unknown_types(monkeypatch: pytest.MonkeyPatch) -> None:
    def build() -> Template:
        template = Template("test")
        template.resource("Logs", "AWS::Logs::LogGroup", {"RetentionInDays": 365})
        template.resource("Thing", "AWS::Made::Up", {})
        return template

    monkeypatch.setitem(phases.PHASES, "99-test", phases.Phase("99-test", build))
    report = build_report(names=["99-test"])
    lines = {ln.resource: ln for ln in report.lines}
    # 1 GB/day: 30 GB ingested at $0.50, 365 GB kept at $0.03
    assert lines["Logs"].monthly == pytest.approx(15.0 + 365 * 0.03)
    assert lines["Thing"].monthly is None and lines["Thing"].basis == "not priced"
    (saving,) = report.savings
    assert saving.what == "log retention" and saving.effect == pytest.approx(335 * 0.03)


def test_cli_report_json_out_dir_and_bad_price_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["observe", "cost", "--report", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["prices_as_of"] == "2025-06"
    assert main(["observe", "cost", "--report", "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "cost-report.md").read_text().startswith("# Cost optimization")
    assert json.loads((tmp_path / "r" / "cost-report.json").read_text())["savings"]
    assert main(["observe", "cost", "--report", "--prices", str(tmp_path / "none.json")]) == 3
    assert "unreadable" in capsys.readouterr().err
    table = json.loads(PRICE_FILE.read_text())
    del table["prices"]["kms_key_month"]
    (tmp_path / "short.json").write_text(json.dumps(table))
    assert main(["observe", "cost", "--report", "--prices", str(tmp_path / "short.json")]) == 3
    assert "lacks kms_key_month" in capsys.readouterr().err

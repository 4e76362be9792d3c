"""``ialr ci``'s files: JUnit XML per experiment, the markdown summary, the deploy gate."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ial_resilience.ci.files import write_text
from ial_resilience.ci.gate import GATE_EXIT, judge
from ial_resilience.ci.junit import junit_xml
from ial_resilience.ci.summary import markdown_summary
from ial_resilience.errors import InputError

REPORT: dict[str, Any] = {
    "title": "Quick <game> day",
    "duration_s": 42.5,
    "kpis": {"chaos_pass_rate": 1 / 3, "passed": 1, "experiments": 3, "availability": 0.998,
             "requests": 900, "mttr_mean_s": 1.5},
    "experiments": [
        {"index": 1, "title": "Kill a replica", "status": "passed", "reason": "held",
         "started_at": 100.0, "ended_at": 110.25, "journal": "j1.json", "file": "k.yaml",
         "time_to_recover_s": 1.5},
        {"index": 2, "title": "Payments | outage", "status": "deviated",
         "reason": "p95_ms 812 > 400 & 'quoted'", "started_at": 110.0, "ended_at": 130.0,
         "journal": "j2.json", "file": "p.yaml", "time_to_recover_s": None},
        {"index": 3, "title": "Failover", "status": "error", "reason": "LockHeld: busy",
         "started_at": 130.0, "ended_at": 131.0, "journal": "j3.json", "file": "f.yaml"},
    ],
}  # fmt: skip


def test_junit_has_one_testcase_per_experiment_and_failures_carry_the_reason() -> None:
    root = ET.fromstring(junit_xml(REPORT, "ialr.quick"))
    (suite,) = root.findall("testsuite")
    assert suite.attrib["name"] == "Quick <game> day"
    assert (suite.attrib["tests"], suite.attrib["failures"], suite.attrib["errors"]) == (
        "3",
        "1",
        "1",
    )
    cases = suite.findall("testcase")
    assert [c.attrib["name"] for c in cases] == ["Kill a replica", "Payments | outage", "Failover"]
    assert cases[0].find("failure") is None and cases[0].attrib["time"] == "10.250"
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.attrib["message"] == "deviated: p95_ms 812 > 400 & 'quoted'"
    assert "journal: j2.json" in (failure.text or "")
    error = cases[2].find("error")
    assert error is not None and "LockHeld" in error.attrib["message"]


def test_markdown_summary_tables_every_experiment_and_escapes_pipes() -> None:
    text = markdown_summary(REPORT, "reports/x/report.json", 1, None)
    assert text.startswith("## Chaos suite: Quick <game> day — exit 1")
    assert "| 2 | Payments \\| outage | ❌ deviated |" in text
    assert "33.3 %" in text and "`reports/x/report.json`" in text


@dataclass
class Part:
    name: str
    weight: float
    value: float | None
    detail: str


@dataclass
class Score:
    value: float | None
    parts: list[Part] = field(default_factory=list)


def test_gate_passes_only_with_every_hypothesis_held_and_the_score_high_enough() -> None:
    good = judge(0, Score(91.0, [Part("outcomes", 0.6, 95.0, "19/20 passed")]), 80)
    assert good.passed and good.exit_code == 0 and good.parts[0]["name"] == "outcomes"
    low = judge(0, Score(72.4), 80)
    assert (low.passed, low.exit_code) == (False, GATE_EXIT)
    assert "72.4 is below --min-score 80" in low.reasons[0]
    none = judge(0, Score(None), 80)
    assert none.exit_code == GATE_EXIT and "not enough history" in none.reasons[0]
    broke = judge(2, Score(99.0), 80)
    assert (broke.passed, broke.exit_code) == (False, 2)  # the hypothesis's own code wins
    assert "Deploy gate failed" in broke.markdown() and "exit 2" in broke.markdown()


def test_an_unwritable_output_is_invalid_input(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="cannot write"):
        write_text(blocker / "junit.xml", "<x/>")
    write_text(tmp_path / "summary.md", "a\n")
    write_text(tmp_path / "summary.md", "b\n", append=True)
    assert (tmp_path / "summary.md").read_text() == "a\nb\n"

"""Terminal output of a run: live progress and the result summary."""

from __future__ import annotations

import io

from rich.console import Console

from ial_resilience.engine.model import Event, EventKind, Phase
from ial_resilience.report.live import LiveProgress
from ial_resilience.report.summary import evidence_headline, render_result


def test_live_progress_shows_phase_faults_and_breach() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with LiveProgress(console) as live:
        live.on_event(Event.now(Phase.METHOD, EventKind.PHASE_START, "applying faults"))
        applied = "network.latency on db for 30s"
        live.on_event(Event.now(Phase.METHOD, EventKind.FAULT_APPLIED, applied, {"key": "k"}))
        live.on_event(Event.now(Phase.METHOD, EventKind.GUARDRAIL_BREACH, "p95_ms=400"))
        live.on_event(Event.now(Phase.REVERT, EventKind.FAULT_REVERTED, "reverted", {"key": "k"}))
    text = out.getvalue()
    assert "network.latency on db for 30s" in text
    assert "BREACHED: p95_ms=400" in text
    assert "reverted at" in text and "phase: revert" in text


def test_evidence_headline_says_what_landed() -> None:
    fault = {
        "applied": True,
        "landed": True,
        "evidence": {
            "agent_faults": [{"added_delay_ms": {"p50": 200.4, "p99": 203.1}, "chunks": 20}]
        },
    }
    assert evidence_headline(fault) == (
        "landed: added delay p50 200.4 ms, p99 203.1 ms over 20 chunks"
    )
    assert evidence_headline({"applied": True, "landed": False, "evidence": {}}).startswith(
        "NO EFFECT"
    )
    assert evidence_headline({"applied": False, "error": "refused"}) == "refused"


def test_result_summary_names_status_checks_and_journal() -> None:
    out = io.StringIO()
    document = {
        "status": "deviated",
        "experiment": {"title": "Orders"},
        "reason": "during the faults: p95_ms=420 (expected <= 150)",
        "faults": [
            {"fault": "network.latency", "target": "db", "applied": True, "landed": True,
             "mechanism": "proxy", "revert_reason": "duration-ended", "evidence": {}}
        ],
        "hypothesis": {
            "during": [
                {"name": "api", "holds": False, "checks": [
                    {"statistic": "p95_ms", "expected": "<= 150", "actual": 420.0, "holds": False}
                ]}
            ]
        },
        "time_to_recover_s": 0.25,
    }  # fmt: skip
    render_result(Console(file=out, width=200), document, "journals/x.json")
    text = out.getvalue()
    assert "DEVIATED Orders" in text and "p95_ms" in text and "420" in text
    assert "journal: journals/x.json" in text and "time to recover: 0.25 s" in text


def test_result_summary_says_when_a_revert_was_not_confirmed() -> None:
    out = io.StringIO()
    faults = [
        {"fault": "process.pause", "target": "api", "applied": True, "landed": True,
         "mechanism": "signal", "revert_reason": "provider-failed", "revert_confirmed": False,
         "evidence": {}},
        {"fault": "network.latency", "target": "db", "applied": True, "landed": True,
         "mechanism": "proxy", "revert_reason": "duration-ended", "revert_confirmed": True,
         "evidence": {}},
    ]  # fmt: skip
    document = {"status": "error", "experiment": {"title": "Orders"}, "reason": "agent died",
                "faults": faults, "hypothesis": {}}  # fmt: skip
    render_result(Console(file=out, width=200), document, None)
    text = out.getvalue()
    assert "provider-failed (not confirmed)" in text
    assert "duration-ended (not confirmed)" not in text and "duration-ended" in text

"""The markdown summary of a pipeline run (``--summary``, ``$GITHUB_STEP_SUMMARY``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ial_resilience.ci.gate import GateResult

_ICON = {"passed": "✅", "deviated": "❌", "aborted": "🛑", "inconclusive": "❔", "error": "💥"}


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100.0 * float(value):.1f} %"


def _secs(value: Any) -> str:
    return "–" if value is None else f"{float(value):.2f} s"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_summary(
    report: Mapping[str, Any], report_path: str, exit_code: int, gate: GateResult | None
) -> str:
    kpis = report.get("kpis") or {}
    lines = [
        f"## Chaos suite: {_cell(report.get('title'))} — exit {exit_code}",
        "",
        "| # | experiment | status | reason | time to recover |",
        "|---|---|---|---|---|",
    ]
    for e in report.get("experiments") or []:
        status = str(e.get("status"))
        lines.append(
            f"| {e.get('index')} | {_cell(e.get('title'))} | {_ICON.get(status, '')} {status} "
            f"| {_cell(e.get('reason') or '')} | {_secs(e.get('time_to_recover_s'))} |"
        )
    lines += [
        "",
        f"chaos pass rate {_pct(kpis.get('chaos_pass_rate'))} "
        f"({kpis.get('passed')}/{kpis.get('experiments')}), availability "
        f"{_pct(kpis.get('availability'))} over {kpis.get('requests')} requests, "
        f"mean time to recover {_secs(kpis.get('mttr_mean_s'))}.",
    ]
    if gate is not None:
        lines += ["", gate.markdown()]
    lines += ["", f"Report: `{report_path}`", ""]
    return "\n".join(lines)

"""Readable summaries of a run for the terminal (Rich): the plan, the result, the evidence."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from ial_resilience.engine.plan import Plan
from ial_resilience.units import format_duration

STATUS_STYLE = {
    "passed": "bold green",
    "deviated": "bold yellow",
    "aborted": "bold red",
    "inconclusive": "bold magenta",
    "error": "bold red",
}


def evidence_headline(fault: Mapping[str, Any]) -> str:
    """One line saying what the provider observed for a fault (journal ``faults[]`` entry)."""
    if not fault.get("applied"):
        return str(fault.get("error") or fault.get("note") or "not applied")
    evidence = fault.get("evidence") or {}
    parts: list[str] = []
    for report in evidence.get("agent_faults", []):
        parts.extend(_agent_evidence(report))
    if "experiment_id" in evidence and evidence.get("states"):
        states = " → ".join(str(s["status"]) for s in evidence["states"])
        parts.append(f"FIS experiment {evidence['experiment_id']}: {states}")
    if "connections_reset_at_apply" in evidence:
        parts.append(f"{evidence['connections_reset_at_apply']} connection(s) reset at apply")
    landed = fault.get("landed")
    verdict = {True: "landed", False: "NO EFFECT", None: "effect unknown"}[landed]
    return f"{verdict}: " + ("; ".join(parts) if parts else "no details")


def _agent_evidence(report: Mapping[str, Any]) -> list[str]:
    parts = []
    delay = report.get("added_delay_ms")
    if isinstance(delay, Mapping) and delay.get("p50") is not None:
        parts.append(
            f"added delay p50 {delay['p50']:.1f} ms, p99 {delay.get('p99') or 0:.1f} ms "
            f"over {report.get('chunks', '?')} chunks"
        )
    for key, text in (
        ("bytes_dropped", "bytes dropped"),
        ("resets", "resets"),
        ("requests_aborted", "requests aborted"),
        ("requests_delayed", "requests delayed"),
        ("connections_affected", "connections affected"),
    ):
        if report.get(key):
            parts.append(f"{report[key]} {text}")
    if "pid" in report and report.get("landed"):
        parts.append(f"process {report['pid']} hit")
    return parts


def render_plan(console: Console, plan: Plan) -> None:
    console.print(f"[bold]Plan[/] for [bold]{plan.title}[/] (run {plan.run_id})")
    console.print(f"environment {plan.environment}, provider {plan.provider}")
    table = Table("#", "fault", "target", "params", "from", "to")
    for fault in plan.faults:
        params = ", ".join(f"{k}={v}" for k, v in fault.params.items()) or "-"
        table.add_row(
            str(fault.index),
            fault.fault,
            f"{fault.target} ({fault.target_detail})",
            params,
            f"+{format_duration(fault.after)}",
            f"+{format_duration(fault.end)}",
        )
    console.print(table)
    for title, labels in (
        ("steady state", plan.steady_state),
        ("probes during the faults", plan.probes),
        ("guardrails", plan.guardrails),
    ):
        console.print(f"{title}: " + ("; ".join(labels) if labels else "none"))
    console.print(f"recovery budget: {format_duration(plan.recovery_within)}")


def render_result(console: Console, document: Mapping[str, Any], journal: str | None) -> None:
    status = str(document.get("status"))
    style = STATUS_STYLE.get(status, "bold")
    title = document.get("experiment", {}).get("title")
    console.print(f"[{style}]{status.upper()}[/] {title}")
    console.print(str(document.get("reason", "")), markup=False)
    faults = Table("fault", "target", "mechanism", "reverted")
    for fault in document.get("faults", []):
        faults.add_row(
            fault["fault"],
            fault["target"],
            str(fault.get("mechanism") or "-"),
            _reverted(fault),
        )
    console.print(faults)
    for fault in document.get("faults", []):
        line = f"evidence {fault['fault']} on {fault['target']}: {evidence_headline(fault)}"
        console.print(line, markup=False, highlight=False)
    checks = Table("phase", "check", "statistic", "expected", "measured", "holds")
    for phase, verdicts in document.get("hypothesis", {}).items():
        for verdict in verdicts:
            for check in verdict["checks"]:
                actual = check["actual"]
                checks.add_row(
                    phase,
                    verdict["name"],
                    check["statistic"],
                    check["expected"],
                    "n/a" if actual is None else f"{actual:.4g}",
                    "yes" if check["holds"] else "[red]NO[/]",
                )
    console.print(checks)
    if document.get("time_to_abort_ms") is not None:
        console.print(f"time to abort: {document['time_to_abort_ms']:.1f} ms")
    if document.get("time_to_recover_s") is not None:
        console.print(f"time to recover: {document['time_to_recover_s']:.2f} s")
    if journal:
        console.print(f"journal: {journal}", markup=False, highlight=False)


def _reverted(fault: dict[str, Any]) -> str:
    """How the fault ended; a revert nobody could confirm (the agent died) says so."""
    reason = str(fault.get("revert_reason") or "-")
    if fault.get("revert_confirmed") is False:
        return f"{reason} (not confirmed)"
    return reason

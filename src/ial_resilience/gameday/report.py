"""report.json (schema ``ialr.gameday/1``) and a self-contained report.html.

report.json: ``schema``, ``title``, ``suite``, ``quick``, ``started_at``/``ended_at`` (unix s),
``duration_s`` (the whole game day, a lab start included), ``lab_ready_s``, ``interrupted``,
``lab`` (``started_by_gameday``, ``kept``), ``loadgen`` (the
load generator's summary: rate offered, statuses, latency and skew percentiles, store points
written/dropped), ``kpis`` (``chaos_pass_rate``, ``passed``/``experiments``, ``by_status``,
``mttr_s`` per title, ``mttr_mean_s``, ``mttr_worst_s``, ``not_recovered``, ``availability``
and ``availability_during_faults`` from every recorded request, ``requests``,
``requests_failed``, ``worst_status``, ``exit_code``, and ``alert_accuracy``,
``alert_false_positive_rate`` with their ``*_target`` and ``*_met``), ``alerts`` (``evaluated``,
``rules``, ``store``, ``rounds``, ``round_errors``, ``fired``, ``accuracy`` {``overall``,
``rules`` per rule, ``fault_windows``, ``grace_s``, ``targets``}), ``exit_code``, and
``experiments``:
each with ``index``, ``title``, ``file``, ``journal`` (path), ``status``, ``exit_code``,
``reason``, ``started_at``/``ended_at``, ``time_to_recover_s``, ``recovery_within_s``,
``abort_at``/``recovered_at`` (unix s or null), ``availability_during_faults``,
``requests_during_faults``, ``faults`` (fault, target, start, end, landed, revert_reason,
evidence), ``findings`` (``every_fault_landed``, ``faults_landed``, and where they apply
``failover_users_rto_s``, ``killed``, ``breaker`` {opened, opened_after_s, closed_after},
``restarts``, ``settle_before``), ``alerts`` (rule, severity, labels, fired_at, resolved_at,
``time_to_detect_s`` from the first fault applied, ``time_to_resolve_s`` from the last fault
reverted) and ``timeline`` (columns ``t`` (s from ``start``),
``requests``, ``availability``, ``p50_ms``, ``p95_ms``, ``p99_ms`` per ``width_s`` bucket).

The HTML needs nothing from the network: CSS inline, charts as inline SVG drawn here, and the
charts' data embedded as JSON (``<script id="gameday-data">``) for anyone who wants to
re-plot it. Both files are written atomically after checking the directory is writable, so a
report that exists is complete.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from html import escape
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from ial_resilience.errors import InputError
from ial_resilience.gameday.charts import timeline_svg
from ial_resilience.gameday.kpis import during_faults
from ial_resilience.gameday.outcome import ExperimentOutcome, FaultWindow

SCHEMA = "ialr.gameday/1"


def fault_json(window: FaultWindow) -> dict[str, Any]:
    return {
        "fault": window.fault,
        "target": window.target,
        "start": window.start,
        "end": window.end,
        "landed": window.landed,
        "revert_reason": window.revert_reason,
        "evidence": dict(window.evidence),
    }


def experiment_json(outcome: ExperimentOutcome) -> dict[str, Any]:
    ok, total = during_faults(outcome)
    return {
        "index": outcome.index,
        "title": outcome.title,
        "file": outcome.file,
        "journal": outcome.journal,
        "status": outcome.status.value,
        "exit_code": int(outcome.status.exit_code),
        "reason": outcome.reason,
        "started_at": outcome.started_at,
        "ended_at": outcome.ended_at,
        "time_to_recover_s": outcome.time_to_recover_s,
        "recovery_within_s": outcome.recovery_within_s,
        "abort_at": outcome.abort_at,
        "recovered_at": outcome.recovered_at,
        "availability_during_faults": ok / total if total else None,
        "requests_during_faults": total,
        "faults": [fault_json(w) for w in outcome.faults],
        "findings": dict(outcome.findings),
        "timeline": outcome.timeline.to_json(),
        "alerts": [dict(a) for a in outcome.alerts],
    }


def build_report(
    outcomes: Sequence[ExperimentOutcome],
    kpis: Mapping[str, Any],
    meta: Mapping[str, Any],
) -> dict[str, Any]:
    """The report.json document; ``meta`` carries title, suite, times, lab and loadgen."""
    return {
        "schema": SCHEMA,
        **dict(meta),
        "kpis": dict(kpis),
        "exit_code": kpis.get("exit_code"),
        "experiments": [experiment_json(o) for o in outcomes],
    }


# -- HTML -----------------------------------------------------------------------------------
def _pct(value: Any) -> str:
    return "–" if value is None else f"{100.0 * float(value):.2f}%"


def _secs(value: Any) -> str:
    return "–" if value is None else f"{float(value):.2f}s"


def _met(value: Any) -> str:
    return "" if value is None else (" ✓" if value else " ✗")


def _kpi_cards(kpis: Mapping[str, Any]) -> str:
    fp_target = _pct(kpis.get("alert_false_positive_rate_target"))
    cards = [
        ("chaos pass rate", f"{_pct(kpis.get('chaos_pass_rate'))}"),
        ("experiments passed", f"{kpis.get('passed')} / {kpis.get('experiments')}"),
        ("mean time to recover", _secs(kpis.get("mttr_mean_s"))),
        ("worst time to recover", _secs(kpis.get("mttr_worst_s"))),
        ("availability (game day)", _pct(kpis.get("availability"))),
        ("availability during faults", _pct(kpis.get("availability_during_faults"))),
        ("requests (failed)", f"{kpis.get('requests')} ({kpis.get('requests_failed')})"),
        (
            f"alert accuracy (target > {_pct(kpis.get('alert_accuracy_target'))})",
            _pct(kpis.get("alert_accuracy")) + _met(kpis.get("alert_accuracy_met")),
        ),
        (
            f"alert false positives (target < {fp_target})",
            _pct(kpis.get("alert_false_positive_rate"))
            + _met(kpis.get("alert_false_positive_rate_met")),
        ),
    ]
    return "".join(f"<div class='kpi'><b>{escape(v)}</b><span>{k}</span></div>" for k, v in cards)


def _evidence_text(experiment: Mapping[str, Any]) -> str:
    findings = experiment.get("findings") or {}
    parts = [
        f"{f['fault']} on {f['target']}: landed {f['landed']}"
        for f in findings.get("faults_landed", [])
    ]
    if "failover_users_rto_s" in findings:
        parts.append(f"failover RTO seen by users {_secs(findings['failover_users_rto_s'])}")
    breaker = findings.get("breaker")
    if breaker:
        parts.append(
            f"breaker opened {breaker.get('opened')}, closed after {breaker.get('closed_after')}"
        )
    for key in ("restarts", "deregistered"):
        if key in findings:
            parts.append(f"{key}: {findings[key]}")
    for alert in experiment.get("alerts") or []:
        parts.append(
            f"alert {alert['rule']} fired (detect {_secs(alert.get('time_to_detect_s'))}), "
            f"resolved {_secs(alert.get('time_to_resolve_s'))} after the revert"
            if alert.get("resolved_at") is not None
            else f"alert {alert['rule']} fired (detect {_secs(alert.get('time_to_detect_s'))}),"
            " still firing"
        )
    return "<br>".join(escape(str(p)) for p in parts)


def _rows(experiments: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for e in experiments:
        status = escape(str(e["status"]))
        budget = e.get("recovery_within_s")
        ttr = _secs(e.get("time_to_recover_s")) + (f" (≤ {budget:g}s)" if budget else "")
        rows.append(
            f"<tr><td>{e['index']}</td><td><a href='#exp-{e['index']}'>{escape(e['title'])}</a>"
            f"<div class='reason'>{escape(e['reason'])}</div></td>"
            f"<td><span class='status {status}'>{status}</span></td><td>{escape(ttr)}</td>"
            f"<td>{_pct(e.get('availability_during_faults'))}</td>"
            f"<td>{_evidence_text(e)}</td></tr>"
        )
    return "".join(rows)


def alerts_html(block: Mapping[str, Any]) -> str:
    """The per-rule accuracy table (or why there is none)."""
    if not block.get("evaluated"):
        return f"<p class='reason'>Alerts not evaluated: {escape(str(block.get('reason')))}</p>"
    scored = block["accuracy"]
    rows = "".join(
        f"<tr><td>{escape(r['rule'])}</td><td>{r['alerts']}</td><td>{_pct(r['precision'])}</td>"
        f"<td>{_pct(r['recall'])}</td><td>{_pct(r['false_positive_rate'])}</td>"
        f"<td>{_pct(r['accuracy'])}</td><td>{_secs(r['mean_time_to_detect_s'])}</td></tr>"
        for r in [*scored["rules"], scored["overall"]]
    )
    return (
        f"<p class='reason'>{len(block['fired'])} alert(s) fired; {scored['fault_windows']} "
        f"fault window(s) (+{scored['grace_s']:g}s grace); rules <code>"
        f"{escape(block['rules'])}</code>, {block['rounds']} evaluation rounds.</p>"
        "<table><thead><tr><th>rule</th><th>alerts</th><th>precision</th><th>recall</th>"
        "<th>false positives</th><th>accuracy</th><th>detect (mean)</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _sections(outcomes: Sequence[ExperimentOutcome]) -> str:
    return "".join(
        f"<section id='exp-{o.index}'><h3>{o.index}. {escape(o.title)} "
        f"<span class='status {o.status.value}'>{o.status.value}</span></h3>"
        f"<div class='reason'>{escape(o.reason)}</div>{timeline_svg(o)}</section>"
        for o in outcomes
    )


def render_html(report: Mapping[str, Any], outcomes: Sequence[ExperimentOutcome]) -> str:
    template = Template(
        resources.files("ial_resilience.gameday").joinpath("report_template.html").read_text()
    )
    charts = {
        str(e["index"]): {"title": e["title"], "timeline": e["timeline"], "faults": [
            {k: f[k] for k in ("fault", "target", "start", "end", "landed")} for f in e["faults"]
        ], "abort_at": e["abort_at"], "recovered_at": e["recovered_at"],
            "alerts": e.get("alerts", [])}
        for e in report["experiments"]
    }  # fmt: skip
    data = json.dumps({"kpis": report["kpis"], "experiments": charts}, separators=(",", ":"))
    started = report.get("started_at")
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)) if started else ""
    return template.substitute(
        title=escape(str(report.get("title", "game day"))),
        when=escape(when),
        suite=escape(str(report.get("suite", ""))),
        rate=escape(str((report.get("loadgen") or {}).get("rate_target", "?"))),
        kpis=_kpi_cards(report["kpis"]),
        alerts=alerts_html(report.get("alerts") or {}),
        rows=_rows(report["experiments"]),
        sections=_sections(outcomes),
        data=data.replace("</", "<\\/"),
    )


# -- writing --------------------------------------------------------------------------------
def check_writable(directory: Path) -> None:
    """Create ``directory`` and prove a file can be written there, before the game day."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".ialr-write-check-", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise InputError(
            f"the report directory {directory} is not writable: {error.strerror or error}",
            hint="choose a writable directory with --output",
        ) from error


def write_text_atomic(path: Path, text: str) -> None:
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.fchmod(fd, 0o644)  # a report is for people to read (mkstemp makes 0600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        raise InputError(
            f"cannot write {path}: {error.strerror or error}",
            hint="choose a writable directory with --output",
        ) from error


def write_report(
    directory: Path, report: Mapping[str, Any], outcomes: Sequence[ExperimentOutcome]
) -> tuple[Path, Path]:
    """Write report.json then report.html (each atomically); returns both paths."""
    html = render_html(report, outcomes)
    json_path, html_path = directory / "report.json", directory / "report.html"
    write_text_atomic(json_path, json.dumps(report, indent=1, default=str) + "\n")
    write_text_atomic(html_path, html)
    return json_path, html_path

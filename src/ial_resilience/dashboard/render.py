"""HTML of the dashboard views: server-rendered, inline CSS and SVG, no script, no external
asset. Run timelines are drawn by ``gameday.charts.timeline_svg`` (the game-day report's
charts); the status strip, score trend and KPI bars are drawn here."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import quote

from ial_resilience.dashboard.model import RunTimeline
from ial_resilience.engine.model import RunStatus
from ial_resilience.gameday.charts import timeline_svg
from ial_resilience.gameday.outcome import ExperimentOutcome

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2430}
header{background:#1d2430;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:center}
header b{font-size:16px}header a{color:#cfd6df;text-decoration:none}header a.on{color:#fff;
border-bottom:2px solid #f5a623}main{max-width:1000px;margin:16px auto;padding:0 16px}
h1{font-size:21px;margin:8px 0}h2{font-size:16px;margin:24px 0 8px}.sub{color:#5a6472}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #e3e7ec;
padding:4px 6px;text-align:left;vertical-align:top}th{background:#f4f6f8}
.status{font-weight:600;border-radius:4px;padding:1px 6px}
.passed,.completed{background:#dff3e4;color:#1a6b32}.deviated,.failed,.rolled_back{
background:#fde8cf;color:#8a4b00}.aborted,.error,.rollback_failed{background:#fbdada;
color:#8c1c1c}.inconclusive{background:#e7e7f7;color:#3b3b8f}
.chart{width:100%;height:auto;border:1px solid #e3e7ec;border-radius:4px;background:#fff}
.fault{fill:#f5a623;fill-opacity:.18}.errors{fill:#d0312d;fill-opacity:.55}
.flabel{font-size:10px;fill:#9a5d00}.axis{stroke:#9aa3ad}.tick{font-size:10px;fill:#5a6472}
.p95t{fill:#2f6fd0}.avail{fill:none;stroke:#1f9d55;stroke-width:2}.p95{fill:none;
stroke:#2f6fd0;stroke-width:1.5;stroke-dasharray:4 2}.abort{stroke:#d0312d;stroke-width:2;
stroke-dasharray:5 3}.recovered{stroke:#1f9d55;stroke-width:2;stroke-dasharray:2 2}
.mark{font-size:10px}.abortt{fill:#d0312d}.recoveredt{fill:#1f9d55}
.bar.passed,.bar.completed{fill:#1f9d55}.bar.deviated,.bar.failed,.bar.rolled_back{fill:#f5a623}
.bar.aborted,.bar.error,.bar.rollback_failed{fill:#d0312d}.bar.inconclusive{fill:#6b6bd6}
.bar{fill:#9aa3ad}.trend{fill:none;stroke:#2f6fd0;stroke-width:2}.pt{fill:#2f6fd0}
.big{font-size:40px;font-weight:700}.card{border:1px solid #d9dee5;border-radius:6px;
padding:8px 12px;margin:8px 0}.sev-high,.sev-critical{border-left:4px solid #d0312d}
.sev-medium,.sev-warning{border-left:4px solid #f5a623}.sev-low,.sev-info{border-left:4px solid
#2f6fd0}.met{color:#1a6b32;font-weight:600}.unmet{color:#8c1c1c;font-weight:600}
.na{color:#5a6472}.note{color:#5a6472;font-size:12px}code{font-size:12px}
"""

VIEWS = (("chaos", "/chaos", "Chaos monitoring"), ("score", "/score", "Resilience score"),
         ("insights", "/insights", "Insights"))  # fmt: skip


def page(active: str, title: str, body: str, source: str) -> str:
    links = "".join(
        f'<a href="{href}"{" class=on" if key == active else ""}>{escape(name)}</a>'
        for key, href, name in VIEWS
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} · ialr dashboard</title>"
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<style>{CSS}</style></head><body><header><b>ialr dashboard</b>{links}</header>"
        f'<main>{body}<p class="note">history: <code>{escape(source)}</code> · read-only'
        "</p></main></body></html>"
    )


def when(ts: float | None) -> str:
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _status(status: str) -> str:
    return f'<span class="status {escape(status)}">{escape(status)}</span>'


def _num(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return (
            f"{value:.{digits}f}".rstrip("0").rstrip(".")
            if isinstance(value, float)
            else str(value)
        )
    return escape(str(value))


def run_href(run_id: str) -> str:
    return "/chaos/run/" + quote(run_id, safe="")


# ---- chaos monitoring ---------------------------------------------------------------------

STRIP_W, STRIP_H = 960, 90


def status_strip(runs: Sequence[Mapping[str, Any]]) -> str:
    """One bar per run, oldest left, coloured by status; taller when recovery took longer."""
    ordered = list(reversed(runs))
    count = max(1, len(ordered))
    step = STRIP_W / count
    ttrs = [r["figures"].get("time_to_recover_s") for r in ordered]
    top = max((float(t) for t in ttrs if isinstance(t, int | float)), default=0.0)
    bars = []
    for index, (run, ttr) in enumerate(zip(ordered, ttrs, strict=True)):
        share = (
            0.35 + 0.65 * (float(ttr) / top) if top > 0 and isinstance(ttr, int | float) else 0.5
        )
        height = (STRIP_H - 10) * share
        label = escape(f"{run['title']} · {run['status']} · {when(run['started_at'])}")
        bars.append(
            f'<a href="{run_href(run["id"])}"><rect class="bar {escape(run["status"])}" '
            f'data-run="{escape(run["id"])}" x="{index * step:.1f}" '
            f'y="{STRIP_H - height:.1f}" width="{max(1.0, step - 1):.1f}" height="{height:.1f}">'
            f"<title>{label}</title></rect></a>"
        )
    return (
        f'<svg class="chart" id="runs-chart" viewBox="0 0 {STRIP_W} {STRIP_H}" role="img" '
        f'aria-label="runs by status">{"".join(bars)}</svg>'
    )


def chaos_page(view: Mapping[str, Any], source: str) -> str:
    counts = " · ".join(f"{_status(s)} {n}" for s, n in view["statuses"].items())
    kinds = " ".join(f'<a href="/chaos?kind={quote(k)}">{escape(k)}</a>' for k in view["kinds"])
    rows = "".join(
        f'<tr><td><a href="{run_href(r["id"])}">{escape(r["title"])}</a><br>'
        f"<code>{escape(r['id'])}</code></td><td>{escape(r['kind'])}</td>"
        f"<td>{_status(r['status'])}</td><td>{when(r['started_at'])}</td>"
        f"<td>{_num(r['duration_s'], 1)} s</td>"
        f"<td>{_num(r['figures'].get('time_to_recover_s'))}</td>"
        f"<td>{escape(r['environment'])}/{escape(r['provider'])}</td></tr>"
        for r in view["runs"]
    )
    empty = (
        ""
        if view["runs"]
        else "<p>No runs in the history yet: run <code>ialr chaos run</code> or "
        "<code>ialr gameday</code>, or <code>ialr history import</code> old journals.</p>"
    )
    body = (
        f"<h1>Chaos monitoring</h1><div class=sub>{view['total']} runs"
        f"{' of kind ' + escape(view['kind']) if view['kind'] else ''}, newest "
        f"{view['shown']} shown · {counts} · kinds: <a href=/chaos>all</a> {kinds}</div>"
        f"<h2>Runs (oldest left; bar height: time to recover)</h2>{status_strip(view['runs'])}"
        f"{empty}<h2>Latest runs</h2><table id=runs><thead><tr><th>run</th><th>kind</th>"
        "<th>status</th><th>started</th><th>duration</th><th>time to recover (s)</th>"
        f"<th>where</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    return page("chaos", "Chaos monitoring", body, source)


def _outcome(run: Mapping[str, Any], timeline: RunTimeline, label: str) -> ExperimentOutcome:
    try:
        status = RunStatus(run["status"])
    except ValueError:
        status = RunStatus.ERROR
    return ExperimentOutcome(
        index=0,
        title=f"{run['title']} — {label}",
        file="",
        journal=str(run.get("source") or ""),
        status=status,
        reason="",
        started_at=timeline.started_at,
        ended_at=timeline.ended_at,
        faults=timeline.faults,
        abort_at=timeline.abort_at,
        recovered_at=timeline.recovered_at,
        time_to_recover_s=run["figures"].get("time_to_recover_s"),
        recovery_within_s=None,
        timeline=timeline.probes[label],
        findings={},
    )


def run_page(view: Mapping[str, Any], timeline: RunTimeline | None, source: str) -> str:
    run = view["run"]
    figures = "".join(
        f"<tr><th>{escape(name)}</th><td>{_num(value)}</td></tr>"
        for name, value in sorted(run["figures"].items())
    )
    charts = ""
    if timeline is not None:
        charts = (
            "".join(
                f"<h3>{escape(label)}</h3>{timeline_svg(_outcome(run, timeline, label))}"
                for label in timeline.probes
            )
            or "<p>The journal holds no probe samples.</p>"
        )
        events = "".join(
            f"<tr><td>{when(e['wall'])}</td><td>{escape(str(e['kind']))}</td>"
            f"<td>{escape(str(e['message'] or ''))}</td></tr>"
            for e in view["timeline"]["events"]
        )
        charts += (
            "<p class=note>green: probe availability · blue dashed: probe p95 latency · "
            "orange: fault active · red dashed: guardrail abort · green dashed: recovered</p>"
            f"<h2>Fault and guardrail events</h2><table id=events><tbody>{events}</tbody></table>"
        )
    else:
        charts = f"<p class=note>No timeline: {escape(str(view['timeline_note']))}</p>"
    children = "".join(
        f'<tr><td><a href="{run_href(c["id"])}">{escape(c["title"])}</a></td>'
        f"<td>{_status(c['status'])}</td><td>{when(c['started_at'])}</td></tr>"
        for c in view["children"]
    )
    body = (
        f"<h1>{escape(run['title'])} {_status(run['status'])}</h1>"
        f"<div class=sub><code>{escape(run['id'])}</code> · {escape(run['kind'])} · "
        f"{when(run['started_at'])} · {escape(run['environment'])}/{escape(run['provider'])}"
        f" · source <code>{escape(str(run['source']))}</code></div>"
        f"<p>{escape(str(view.get('reason') or ''))}</p><h2>Timeline</h2>{charts}"
        f"<h2>Figures</h2><table id=figures><tbody>{figures}</tbody></table>"
        + (
            f"<h2>Runs recorded under it</h2><table><tbody>{children}</tbody></table>"
            if children
            else ""
        )
    )
    return page("chaos", run["title"], body, source)


# ---- resilience score ---------------------------------------------------------------------

TREND_W, TREND_H, PAD = 960, 220, 36


def trend_svg(trend: Sequence[Mapping[str, Any]]) -> str:
    """The score over time: one point per evaluation with a value, on a 0–100 axis."""
    known = [t for t in trend if t.get("value") is not None]
    if not known:
        return "<p>Not enough runs for a score trend yet.</p>"
    first, last = known[0]["at"], known[-1]["at"]
    span = last - first or 1.0

    def xy(item: Mapping[str, Any]) -> tuple[float, float]:
        x = PAD + (TREND_W - 2 * PAD) * ((item["at"] - first) / span if last > first else 0.5)
        y = PAD / 2 + (TREND_H - PAD * 1.5) * (1 - float(item["value"]) / 100.0)
        return x, y

    points = [xy(t) for t in known]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    dots = "".join(
        f'<circle class="pt" cx="{x:.1f}" cy="{y:.1f}" r="3.5"><title>'
        f"{when(t['at'])}: {float(t['value']):.1f} ({t['runs']} runs)</title></circle>"
        for (x, y), t in zip(points, known, strict=True)
    )
    plot_h = TREND_H - PAD * 1.5
    ticks = "".join(
        f'<text class="tick" x="{PAD - 6}" y="{PAD / 2 + plot_h * (1 - v / 100) + 4:.1f}" '
        f'text-anchor="end">{v}</text>'
        for v in (0, 50, 100)
    )
    dates = (
        f'<text class="tick" x="{PAD}" y="{TREND_H - 6}">{when(first)[:10]}</text>'
        f'<text class="tick" x="{TREND_W - PAD}" y="{TREND_H - 6}" text-anchor="end">'
        f"{when(last)[:10]}</text>"
    )
    return (
        f'<svg class="chart" id="score-trend" viewBox="0 0 {TREND_W} {TREND_H}" role="img" '
        f'aria-label="resilience score over time">{ticks}{dates}'
        f'<polyline class="trend" points="{line}"/>{dots}</svg>'
    )


def score_page(view: Mapping[str, Any], source: str) -> str:
    value = view["value"]
    shown = "not enough data" if value is None else f"{float(value):.1f}"
    parts = "".join(
        f"<tr><td>{escape(str(p.get('name')))}</td><td>{_num(p.get('weight'))}</td>"
        f"<td>{_num(p.get('value'))}</td><td>{escape(str(p.get('detail') or ''))}</td></tr>"
        for p in view["parts"]
    )
    body = (
        f"<h1>Resilience score</h1><div class=big id=score>{shown}</div>"
        "<div class=sub>0–100, from the history's runs (INTERFACES §8 resilience_score)</div>"
        f"<h2>Parts</h2><table id=parts><thead><tr><th>part</th><th>weight</th><th>value</th>"
        f"<th>detail</th></tr></thead><tbody>{parts}</tbody></table>"
        f"<h2>Formula</h2><p><code>{escape(str(view['formula']))}</code></p>"
        f"<h2>Trend</h2>{trend_svg(view['trend'])}"
    )
    return page("score", "Resilience score", body, source)


# ---- insights -----------------------------------------------------------------------------

KPI_W, KPI_ROW, KPI_BAR = 960, 26, 560


def kpi_scale(value: float | None, target: str) -> tuple[float, float | None]:
    """(bar, target tick) as shares of the axis: a rate (value and target within 0–1) on a
    0–1 axis; anything else (seconds, counts) on a 0–2×target axis, the target in the middle."""
    found = re.search(r"[-+]?\d+(?:\.\d+)?", target)
    goal = float(found.group()) if found else None
    if value is None:
        return 0.0, goal if goal is not None and 0 <= goal <= 1 else None
    if goal is not None and 0 <= goal <= 1 and 0 <= value <= 1:
        return value, goal
    if goal:
        return min(1.0, value / (2 * goal)), 0.5
    return 1.0, None


def kpi_svg(kpis: Sequence[Mapping[str, Any]]) -> str:
    """One bar per KPI, as long as its value on the axis of :func:`kpi_scale`, green when
    the target is met, red when missed, a grey stub when there is not enough data; the black
    tick is the target."""
    rows = []
    for index, kpi in enumerate(kpis):
        y = index * KPI_ROW
        met = kpi.get("met")
        css = "passed" if met else ("error" if met is False else "inconclusive")
        raw = kpi.get("value")
        value = float(raw) if isinstance(raw, int | float) else None
        share, tick = kpi_scale(value, str(kpi.get("target") or ""))
        width = max(4.0, KPI_BAR * share)
        shown = "not enough data" if value is None else _num(raw, 4)
        mark = (
            f'<line class="axis" x1="{170 + KPI_BAR * tick:.1f}" y1="{y + 1}" '
            f'x2="{170 + KPI_BAR * tick:.1f}" y2="{y + KPI_ROW - 1}"/>'
            if tick is not None
            else ""
        )
        rows.append(
            f'<text class="tick" x="0" y="{y + 16}">{escape(str(kpi.get("name")))}</text>'
            f'<rect class="bar {css}" data-kpi="{escape(str(kpi.get("name")))}" x="170" '
            f'y="{y + 4}" width="{width:.1f}" height="{KPI_ROW - 8}"/>{mark}'
            f'<text class="tick" x="{180 + KPI_BAR}" y="{y + 16}">{shown} '
            f"(target {escape(str(kpi.get('target')))}, n={kpi.get('sample_size')})</text>"
        )
    height = max(KPI_ROW, KPI_ROW * len(kpis))
    return (
        f'<svg class="chart" id="kpi-chart" viewBox="0 0 {KPI_W} {height}" role="img" '
        f'aria-label="KPIs against their targets">{"".join(rows)}</svg>'
    )


def _evidence(items: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(
        f'<a href="{run_href(str(e.get("record_id")))}">{escape(str(e.get("record_id")))}</a>'
        f" {escape(str(e.get('figure')))}={_num(e.get('value'))}"
        for e in items
    )


def insights_page(view: Mapping[str, Any], source: str) -> str:
    recs = (
        "".join(
            f'<div class="card rec sev-{escape(str(r.get("severity")))}">'
            f"<b>{escape(str(r.get('text')))}</b>"
            f"<div class=note>{escape(str(r.get('severity')))} · evidence: "
            f"{_evidence(r.get('evidence') or [])}</div></div>"
            for r in view["recommendations"]
        )
        or "<p>No recommendations: the analyzer found nothing to act on.</p>"
    )
    kpis = "".join(
        f"<tr><td>{escape(str(k.get('name')))}</td><td>"
        + (
            "<span class=na>not enough data</span>"
            if k.get("value") is None
            else f"{_num(k.get('value'), 4)} {escape(str(k.get('unit') or ''))}"
        )
        + f"</td><td>{escape(str(k.get('target')))}</td><td>"
        + (
            {True: "<span class=met>met</span>", False: "<span class=unmet>missed</span>"}.get(
                k.get("met"), "<span class=na>—</span>"
            )
        )
        + f"</td><td>{k.get('sample_size')}</td><td>{escape(str(k.get('note') or ''))}</td></tr>"
        for k in view["kpis"]
    )
    findings = "".join(
        f"<tr><td>{escape(name)}</td><td><code>{escape(_brief(item))}</code></td></tr>"
        for name, items in (
            ("regression", view["regressions"]),
            ("change point", view["change_points"]),
        )
        for item in items
    )
    body = (
        "<h1>Insights</h1><h2>Recommendations</h2>"
        f"<div id=recommendations>{recs}</div>"
        f"<h2>KPI scorecard</h2>{kpi_svg(view['kpis'])}"
        "<table id=kpis><thead><tr><th>KPI</th><th>value</th><th>target</th><th>met</th>"
        f"<th>sample size</th><th>note</th></tr></thead><tbody>{kpis}</tbody></table>"
        f"<h2>Regressions and change points</h2><table id=findings><tbody>"
        f"{findings or '<tr><td>none found</td></tr>'}</tbody></table>"
    )
    return page("insights", "Insights", body, source)


def _brief(item: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in item.items() if not isinstance(v, list | dict))


def error_page(message: str, hint: str, source: str) -> str:
    body = f"<h1>History unavailable</h1><p>{escape(message)}</p><p class=note>{escape(hint)}</p>"
    return page("", "History unavailable", body, source)

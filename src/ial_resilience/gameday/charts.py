"""Inline SVG timeline charts (no JavaScript, no CDN): availability and p95 latency from the
load generator, fault windows shaded, abort, recovery and alerts fired/resolved marked."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from ial_resilience.gameday.outcome import ExperimentOutcome

WIDTH, HEIGHT = 760, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 60, 14, 28


def _x(t: float, span: float) -> float:
    return LEFT + (WIDTH - LEFT - RIGHT) * (t / span if span > 0 else 0.0)


def _y(fraction: float) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - max(0.0, min(1.0, fraction)))


def _polyline(points: Sequence[tuple[float, float]], css: str) -> str:
    if not points:
        return ""
    text = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return f'<polyline class="{css}" points="{text}"/>'


def latency_scale(values: Sequence[float | None]) -> float:
    """Top of the latency axis: the largest p95 rounded up to 1/2/5 × 10^n ms (≥ 10 ms)."""
    top = max((v for v in values if v is not None), default=0.0)
    decade = 10.0
    while True:
        for factor in (1.0, 2.0, 5.0):
            if decade * factor >= top:
                return decade * factor
        decade *= 10.0


def timeline_svg(outcome: ExperimentOutcome) -> str:
    timeline = outcome.timeline
    span = max(timeline.end - timeline.start, timeline.width)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(outcome.title)}: availability and p95 latency">'
    ]
    parts += _fault_rects(outcome, span)
    parts += _axes(span, latency_scale([b.p95_ms for b in timeline.buckets]))
    mid = timeline.width / 2
    avail = [
        (_x(b.start - timeline.start + mid, span), _y(b.availability))
        for b in timeline.buckets
        if b.availability is not None
    ]
    scale = latency_scale([b.p95_ms for b in timeline.buckets])
    p95 = [
        (_x(b.start - timeline.start + mid, span), _y(b.p95_ms / scale))
        for b in timeline.buckets
        if b.p95_ms is not None
    ]
    parts += _error_bars(outcome, span)
    parts += [_polyline(avail, "avail"), _polyline(p95, "p95")]
    parts += _marks(outcome, span)
    parts.append("</svg>")
    return "".join(parts)


def _error_bars(outcome: ExperimentOutcome, span: float) -> list[str]:
    """A red bar per bucket with failed requests, as tall as the failed share."""
    timeline = outcome.timeline
    width = max(1.0, _x(timeline.width, span) - LEFT - 1.0)
    bars = []
    for bucket in timeline.buckets:
        failed = bucket.requests - bucket.ok
        if failed <= 0:
            continue
        top = _y(failed / bucket.requests)
        x = _x(bucket.start - timeline.start, span)
        bars.append(
            f'<rect class="errors" x="{x:.1f}" y="{top:.1f}" width="{width:.1f}" '
            f'height="{_y(0.0) - top:.1f}"><title>{failed} of {bucket.requests} requests failed'
            f"</title></rect>"
        )
    return bars


def _fault_rects(outcome: ExperimentOutcome, span: float) -> list[str]:
    start = outcome.timeline.start
    rects = []
    for window in outcome.faults:
        x0 = _x(window.start - start, span)
        x1 = _x((window.end or outcome.ended_at) - start, span)
        label = escape(f"{window.fault} on {window.target} (landed: {window.landed})")
        rects.append(
            f'<rect class="fault" x="{x0:.1f}" y="{TOP}" width="{max(1.0, x1 - x0):.1f}" '
            f'height="{HEIGHT - TOP - BOTTOM}"><title>{label}</title></rect>'
            f'<text class="flabel" x="{x0 + 3:.1f}" y="{TOP + 11}">{escape(window.fault)}</text>'
        )
    return rects


def _axes(span: float, scale: float) -> list[str]:
    bottom = HEIGHT - BOTTOM
    parts = [
        f'<line class="axis" x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}"/>',
        f'<text class="tick" x="{LEFT - 4}" y="{_y(1.0) + 4:.1f}" text-anchor="end">100%</text>',
        f'<text class="tick" x="{LEFT - 4}" y="{_y(0.5) + 4:.1f}" text-anchor="end">50%</text>',
        f'<text class="tick" x="{LEFT - 4}" y="{_y(0.0) + 4:.1f}" text-anchor="end">0%</text>',
        f'<text class="tick p95t" x="{WIDTH - RIGHT + 4}" y="{_y(1.0) + 4:.1f}">'
        f"{scale:g} ms</text>",
        f'<text class="tick p95t" x="{WIDTH - RIGHT + 4}" y="{_y(0.0) + 4:.1f}">0 ms</text>',
    ]
    step = _tick_step(span)
    t = 0.0
    while t <= span + 1e-9:
        x = _x(t, span)
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">{t:g}s</text>'
        )
        t += step
    return parts


def _tick_step(span: float) -> float:
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600):
        if span / step <= 10:
            return float(step)
    return max(1.0, span / 10)


def _marks(outcome: ExperimentOutcome, span: float) -> list[str]:
    start = outcome.timeline.start
    marks = []
    events: list[tuple[float | None, str, str]] = [
        (outcome.abort_at, "abort", "guardrail abort"),
        (outcome.recovered_at, "recovered", "recovered"),
    ]
    for alert in outcome.alerts:
        events.append((alert.get("fired_at"), "alertf", f"{alert['rule']} fired"))
        events.append((alert.get("resolved_at"), "alertr", f"{alert['rule']} resolved"))
    for at, css, label in events:
        if at is None or not 0.0 <= at - start <= span:
            continue
        x = _x(at - start, span)
        marks.append(
            f'<line class="{css}" x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{HEIGHT - BOTTOM}">'
            f"<title>{label} at +{at - start:.2f}s</title></line>"
            f'<text class="mark {css}t" x="{x + 3:.1f}" y="{HEIGHT - BOTTOM - 4}">{label}</text>'
        )
    return marks

"""Observability benchmarks, ratios and checks measured in one run.

- ``@traced`` against a bare OpenTelemetry span with the same batch processor (target ≤ 1.05×);
- the unsampled path per call (target ≤ 2 µs), beside the bare SDK's unsampled span;
- telemetry store ingest from one writer (target ≥ 50,000 points/s);
- 4 writer processes at once lose no point;
- 100 rules over 10,000 series evaluated in one round (target ≤ 1 s);
- a burn-rate alert fires within one evaluation interval after its condition became true
  (real clock: a writer thread, the evaluator thread).

Run: ``.venv/bin/python -m benchmarks bench_observability``. Figures go between the
``bench_observability`` markers of benchmarks/BENCHMARKS.md.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from benchmarks import _sections as sections
from ial_resilience.alerting.evaluator import Evaluator
from ial_resilience.alerting.observe import SeriesIndex, observe
from ial_resilience.alerting.rules import RuleFile, rules_from_document
from ial_resilience.alerting.state import history
from ial_resilience.observability import tracing
from ial_resilience.observability.store import Point, TelemetryStore
from ial_resilience.spec.document import parse_document

MARK_START = "<!-- bench_observability:start -->"
MARK_END = "<!-- bench_observability:end -->"
QUEUE = 1 << 14


class NullExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


@dataclass(frozen=True)
class Row:
    measure: str
    baseline: str
    ours: str
    ratio: str
    target: str
    passed: bool | None


def _per_call_us(fn: Callable[[], object], calls: int) -> float:
    """Per-call CPU time of this thread, garbage collector off (as ``timeit`` does).

    Thread CPU time, not wall time: on a machine shared with other jobs the wall clock also
    counts the time this thread waited for a core, which is not the cost of the code.
    """
    gc.collect()
    gc.disable()
    try:
        started = time.thread_time()
        for _ in range(calls):
            fn()
        return (time.thread_time() - started) / calls * 1e6
    finally:
        gc.enable()


def _paired(
    a: Callable[[], object],
    b: Callable[[], object],
    calls: int,
    rounds: int,
    between: Callable[[], object] = lambda: None,
) -> tuple[float, float, float]:
    """Interleaved rounds (A B, B A, A B …), each pair measured back to back.

    Returns the best per-call time of each side and the median of the per-pair ratios b/a:
    a pair shares the machine's state of the moment, so its ratio cancels slow drift.
    ``between`` runs untimed after each measurement (it empties the span queue).
    """
    times: dict[int, list[float]] = {0: [], 1: []}
    for round_ in range(rounds):
        order = (0, 1) if round_ % 2 == 0 else (1, 0)  # neither side always goes first
        for side in order:
            times[side].append(_per_call_us((a, b)[side], calls))
            between()
    ratios = [second / first for first, second in zip(times[0], times[1], strict=True)]
    return min(times[0]), min(times[1]), statistics.median(ratios)


def bench_traced() -> list[Row]:
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(1.0)))
    # queue and batch larger than every span of the run, a long delay: the export thread stays
    # asleep while timing, so both sides pay the same processor cost and no thread contention
    provider.add_span_processor(
        BatchSpanProcessor(
            NullExporter(),
            max_queue_size=QUEUE,
            max_export_batch_size=QUEUE,
            schedule_delay_millis=600_000,
        )
    )
    tracer = provider.get_tracer("bench")
    tracing.use_provider(provider, sample_ratio=1.0)

    def body() -> None:
        pass

    def bare() -> None:  # the same function call, inside a bare span
        with tracer.start_as_current_span("work"):
            body()

    ours = tracing.traced(name="work")(body)

    bare_us, ours_us, sampled = _paired(bare, ours, 2000, 21, between=provider.force_flush)
    provider.shutdown()

    off = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.0)))
    off.add_span_processor(BatchSpanProcessor(NullExporter()))
    off_tracer = off.get_tracer("bench")
    tracing.use_provider(off, sample_ratio=0.0)

    def bare_off() -> None:
        with off_tracer.start_as_current_span("work"):
            pass

    off_bare_us, off_ours_us, off_ratio = _paired(bare_off, ours, 20000, 7)
    off.shutdown()
    tracing.use_provider(TracerProvider(), sample_ratio=1.0)
    return [
        Row("sampled span per call", f"{bare_us:.2f} µs (bare OTel span)",
            f"{ours_us:.2f} µs (@traced)", f"{sampled:.3f}×", "≤ 1.05×", sampled <= 1.05),
        Row("unsampled call", f"{off_bare_us:.2f} µs (bare OTel span)",
            f"{off_ours_us:.2f} µs (@traced)", f"{off_ratio:.3f}×", "≤ 2 µs",
            off_ours_us <= 2.0),
    ]  # fmt: skip


def bench_ingest(directory: Path) -> Row:
    store = TelemetryStore(directory / "ingest.db")
    now = time.time()
    batch = [
        Point("http.requests", 1.0, {"service": f"s{i % 50}", "outcome": "ok"}, now + i * 1e-4)
        for i in range(10_000)
    ]
    store.write_points(batch)  # series created once
    rates = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(4):
            store.write_points(batch)
        rates.append(40_000 / (time.perf_counter() - started))
    rate = statistics.median(rates)
    return Row("store ingest, one writer", "—", f"{rate:,.0f} points/s", "—", "≥ 50,000/s",
               rate >= 50_000)  # fmt: skip


def _writer(path: str, writer: int, batches: int) -> None:
    store = TelemetryStore(path)
    for batch in range(batches):
        store.write_points(
            Point("w", 1.0, {"writer": str(writer)}, 1e9 + batch + i / 1000) for i in range(1000)
        )


def bench_writers(directory: Path) -> Row:
    path = directory / "writers.db"
    TelemetryStore(path).close()
    context = multiprocessing.get_context("spawn")
    started = time.perf_counter()
    processes = [context.Process(target=_writer, args=(str(path), w, 50)) for w in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    seconds = time.perf_counter() - started
    count = TelemetryStore(path).count_points()
    ok = count == 200_000 and all(p.exitcode == 0 for p in processes)
    return Row("4 writer processes", "200,000 points sent", f"{count:,} stored in {seconds:.1f} s",
               "—", "none lost", ok)  # fmt: skip


def _rules_text(count: int) -> str:
    lines = ["version: 1", "rules:"]
    functions = ["rate", "mean", "max", "value"]
    for i in range(count):
        function = functions[i % len(functions)]
        threshold = -1 if i % 10 == 0 else 1e9  # every tenth rule fires for all its groups
        lines.append(
            f"  - {{name: r{i}, kind: threshold, by: [instance], op: '>', value: {threshold}, "
            f"expr: {{function: {function}, metric: m{i % 100}, window: 1m}}}}"
        )
    return "\n".join(lines) + "\n"


def bench_rules(directory: Path) -> Row:
    store = TelemetryStore(directory / "rules.db")
    now = time.time()
    store.write_points(
        Point(f"m{m}", float(k), {"instance": f"i{s}"}, now - 50 + k * 10)
        for m in range(100)
        for s in range(100)
        for k in range(5)
    )  # 10,000 series, 5 points each inside the window
    rules = rules_from_document(parse_document(_rules_text(100), "bench-rules.yaml"))
    evaluator = Evaluator(rules, store)
    timings = []
    for round_ in range(7):
        started = time.perf_counter()
        result = evaluator.evaluate(now=now + round_ * 0.001)
        timings.append(time.perf_counter() - started)
    best, median = min(timings), statistics.median(timings)
    firing = len(result.firing())
    return Row("100 rules × 10,000 series", f"{firing:,} alerts firing",
               f"best {best * 1000:.0f} ms, median {median * 1000:.0f} ms per round", "—",
               "≤ 1 s (best)", best <= 1.0)  # fmt: skip


BURN_RULES = """\
version: 1
rules:
  - name: slo
    kind: burn_rate
    objective: 0.99
    good: {metric: req, where: {outcome: ok}}
    total: {metric: req}
    windows: [{long: 4s, short: 1s, factor: 10}]
"""


def bench_burn_rate(directory: Path, interval: float = 0.25) -> Row:
    store = TelemetryStore(directory / "burn.db")
    rules: RuleFile = rules_from_document(parse_document(BURN_RULES, "burn.yaml"))
    stop = threading.Event()
    bad = threading.Event()

    def traffic() -> None:
        writer = TelemetryStore(directory / "burn.db")
        while not stop.is_set():
            now = time.time()
            outcome = "error" if bad.is_set() else "ok"
            writer.write_points([Point("req", 1.0, {"outcome": outcome}, now)])
            time.sleep(0.005)

    threads = [
        threading.Thread(target=traffic, daemon=True),
        threading.Thread(
            target=Evaluator(rules, store).run,
            args=(stop,),
            kwargs={"interval": interval},
            daemon=True,
        ),
    ]
    for thread in threads:
        thread.start()
    time.sleep(4.5)
    bad.set()
    time.sleep(3.0)
    stop.set()
    for thread in threads:
        thread.join(10)
    fired = [a.fired_at for a in history(store) if a.rule == "slo"]
    condition = _condition_time(rules, store, start=time.time() - 8, end=time.time())
    if not fired or condition is None:
        return Row("burn-rate alert latency", "—", "did not fire", "—", f"≤ {interval:g} s", False)
    delay = min(t for t in fired if t >= condition) - condition
    return Row("burn-rate alert latency", f"interval {interval:g} s",
               f"fired {delay * 1000:.0f} ms after the condition", "—",
               "≤ 1 interval", delay <= interval)  # fmt: skip


def _condition_time(
    rules: RuleFile, store: TelemetryStore, start: float, end: float
) -> float | None:
    """The first instant (10 ms steps) the stored data makes the burn-rate condition true."""
    index = SeriesIndex(store)
    t = start
    while t <= end:
        if any(o.condition for o in observe(rules.rules[0], index, t)):
            return t
        t += 0.01
    return None


def render(rows: list[Row], seconds: float, load: float) -> str:
    lines = [
        MARK_START,
        "## Observability",
        "",
        f"Command: `.venv/bin/python -m benchmarks bench_observability` — "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {seconds:.0f} s, "
        f"load average {load:.1f} at start (2 vCPU shared).",
        "",
        "| measure | baseline | ours | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        met = "—" if row.passed is None else ("yes" if row.passed else "**no**")
        lines.append(
            f"| {row.measure} | {row.baseline} | {row.ours} | {row.ratio} | {row.target} | {met} |"
        )
    lines += [
        "",
        "Span timings are thread CPU time (best round shown); the ratio is the median of 21 "
        "back-to-back pairs (bare, ours; ours, bare; …) with one "
        "`BatchSpanProcessor` (queue larger than a round, flushed between rounds) and a null "
        "exporter. The unsampled `@traced` skips span creation "
        "when the parent is unsampled or the ratio is 0 (same decision as `ParentBased`).",
        MARK_END,
    ]
    return "\n".join(lines)


def main() -> int:
    started = time.monotonic()
    load = os.getloadavg()[0]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="ialr-bench-obs-") as temp:
        directory = Path(temp)
        for step in (bench_traced, bench_ingest, bench_writers, bench_rules, bench_burn_rate):
            found = step() if step is bench_traced else step(directory)  # type: ignore[call-arg]
            for row in found if isinstance(found, list) else [found]:
                print(f"  {row.measure}: {row.ours} ({row.ratio}; target {row.target})", flush=True)
                rows.append(row)
    section = render(rows, time.monotonic() - started, load)
    print(section)
    sections.write_section(section, MARK_START, MARK_END)
    return 0 if all(r.passed is not False for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())

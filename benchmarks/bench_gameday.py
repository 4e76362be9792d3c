"""Game day benchmarks: the load generator holds its rate, the report stays small and fast.

1. Load generator against a trivial HTTP server (raw asyncio, its own process): 50 req/s
   (baseline) and 500 req/s for 20 s each, recording into a telemetry store; offered rate,
   send-time skew p50/p99/max, latency, store points written/dropped, load average.
2. Report for a full game day: 13 experiments × 30 s of 20 req/s written to a real store, then
   read back, bucketed, rendered (report.json + report.html) — time and size.
3. With ``BENCH_GAMEDAY_FULL=1``: a real ``ialr gameday`` of the whole library (lab started
   and stopped by it), wall time and result.

    python -m benchmarks bench_gameday
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import _sections as sections
from ial_resilience.gameday import kpis as kpis_mod
from ial_resilience.gameday.outcome import build_outcome
from ial_resilience.gameday.report import build_report, write_report
from ial_resilience.gameday.timeline import read_requests
from ial_resilience.lab.loadgen_record import Outcome
from ial_resilience.observability.store import TelemetryStore
from ial_resilience.postgres import free_port

ROOT = Path(__file__).resolve().parent
MARK_START, MARK_END = "<!-- bench_gameday:start -->", "<!-- bench_gameday:end -->"
HEADER = (
    "| target | offered req/s | skew p50 | skew p99 | skew max | latency p99 | ok/sent "
    "| store written / dropped | load avg (1 min) |"
)

TRIVIAL_SERVER = """
import asyncio, sys
async def handle(r, w):
    try:
        while True:
            head = await r.readuntil(b"\\r\\n\\r\\n")
            n = 0
            for line in head.split(b"\\r\\n"):
                if line.lower().startswith(b"content-length:"):
                    n = int(line.split(b":")[1])
            if n:
                await r.readexactly(n)
            w.write(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\n[]")
            await w.drain()
    except Exception:
        pass
    finally:
        w.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    print("ready", flush=True)
    await server.serve_forever()
asyncio.run(main())
"""


def loadgen_run(rate: float, seconds: float, base: Path) -> dict[str, Any]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", TRIVIAL_SERVER, str(port)], stdout=subprocess.PIPE
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == b"ready"
        load_before = os.getloadavg()[0]
        done = subprocess.run(
            [sys.executable, "-m", "ial_resilience.lab.loadgen", "--url",
             f"http://127.0.0.1:{port}", "--rate", f"{rate:g}", "--duration", f"{seconds:g}s",
             "--store", str(base / f"loadgen-{rate:g}.db")],
            capture_output=True, check=True, timeout=seconds + 60,
        )  # fmt: skip
    finally:
        server.kill()
        server.wait()
    summary: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    summary["loadavg_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return summary


def report_run(base: Path, experiments: int = 13, seconds: float = 30.0) -> dict[str, Any]:
    store = TelemetryStore(base / "report.db")
    t0 = time.time() - experiments * seconds - 5
    outcomes = [
        Outcome(t0 + i / 20, 0.5, 20.0 + i % 37, "GET", "/orders", "200" if i % 211 else "503")
        for i in range(int(20 * seconds * experiments))
    ]
    for start in range(0, len(outcomes), 2000):
        store.write_points(o.point() for o in outcomes[start : start + 2000])
    journals = []
    for index in range(experiments):
        started = t0 + index * seconds
        journals.append({
            "experiment": {"title": f"experiment {index}"}, "status": "passed", "reason": "",
            "started_at": started, "ended_at": started + seconds, "time_to_recover_s": 1.0,
            "faults": [{"fault": "network.latency", "target": "x", "applied": True,
                        "applied_at": started + 5, "reverted_t": 15.0, "landed": True,
                        "evidence": {"agent_faults": [{"chunks": 10, "landed": True}]}}],
        })  # fmt: skip
    began = time.perf_counter()
    everything = read_requests(store, t0 - 1, time.time())
    built = [
        build_outcome(i, j, "j.json", [r for r in everything if _inside(r.ts, j)])
        for i, j in enumerate(journals)
    ]
    ok = sum(1 for r in everything if r.ok)
    report = build_report(built, kpis_mod.kpis(built, ok, len(everything)), {"title": "bench"})
    out = base / "report"
    out.mkdir()
    json_path, html_path = write_report(out, report, built)
    elapsed = time.perf_counter() - began
    store.close()
    return {
        "requests": len(everything),
        "experiments": experiments,
        "build_s": elapsed,
        "html_bytes": html_path.stat().st_size,
        "json_bytes": json_path.stat().st_size,
    }


def _inside(ts: float, journal: dict[str, Any]) -> bool:
    return bool(journal["started_at"] <= ts < journal["ended_at"])


def full_gameday(base: Path) -> dict[str, Any] | None:
    if os.environ.get("BENCH_GAMEDAY_FULL") != "1":
        return None
    output = base / "full"
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "ial_resilience.cli.main", "gameday", "--output", str(output),
         "--state-dir", str(base / "state"), "--json"],
        capture_output=True, text=True, timeout=900, cwd=ROOT.parent,
    )  # fmt: skip
    wall = time.monotonic() - began
    report = json.loads((output / "report.json").read_text())
    return {
        "wall_s": wall,
        "gameday_s": report["duration_s"],
        "exit_code": done.returncode,
        "kpis": report["kpis"],
        "statuses": {e["title"]: e["status"] for e in report["experiments"]},
    }


def _ms(value: Any) -> str:
    return "–" if value is None else f"{float(value):.2f} ms"


def _row(r: dict[str, Any]) -> str:
    skew, latency, store = r["skew_ms"], r["latency_ms"], r["store"]
    return (
        f"| {r['rate_target']:g} req/s | {r['rate_offered']:.1f} | {_ms(skew['p50'])} | "
        f"{_ms(skew['p99'])} | {_ms(skew['max'])} | {_ms(latency['p99'])} | "
        f"{r['ok']}/{r['scheduled']} | {store['written']} / {store['dropped']} | "
        f"{r['loadavg_1m'][0]} → {r['loadavg_1m'][1]} |"
    )


def render(runs: list[dict[str, Any]], report: dict[str, Any], full: dict[str, Any] | None) -> str:
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows = "\n".join(_row(r) for r in runs)
    full_text = "Full library: not run this time (set `BENCH_GAMEDAY_FULL=1`)."
    if full is not None:
        k = full["kpis"]
        full_text = (
            f"Full library (`ialr gameday`, lab started and stopped by it): wall time "
            f"{full['wall_s']:.0f} s, of which the report's duration_s (lab start included) "
            f"{full['gameday_s']:.0f} s (budget 360 s); "
            f"{k['passed']}/{k['experiments']} hypotheses held, availability "
            f"{100 * (k['availability'] or 0):.2f} % over {k['requests']} requests, exit code "
            f"{full['exit_code']}. Statuses: "
            + "; ".join(f"{t}: {s}" for t, s in full["statuses"].items())
            + "."
        )
    return f"""{MARK_START}
## Game day (`python -m benchmarks bench_gameday`, {date})

Load generator (open loop, raw asyncio HTTP/1.1, every request recorded in the telemetry
store) against a trivial asyncio HTTP server in its own process, {runs[0]["elapsed_s"]:.0f} s per
rate; skew = how late a request left after its scheduled time; latency is measured from the
scheduled time. The 50 req/s row is the baseline. Target: 500 req/s with skew p99 ≤ 5 ms.

{HEADER}
|---|---|---|---|---|---|---|---|---|
{rows}

The machine has 2 vCPU and may be shared with other work: the load average column
says how busy it was. Skew is dominated by when the OS runs the generator's process: a busy
generator (500 req/s) keeps its timetable better than an idle one (50 req/s) that must be
woken for every request. Ad-hoc runs of 5 s at 500 req/s the same day measured skew p99
between 2.5 ms and 27 ms depending on what else ran; the figure above is this run's.

Report for a full game day ({report["experiments"]} experiments × 30 s at 20 req/s,
{report["requests"]} requests read back from the store, bucketed, KPIs, report.json +
report.html with inline SVG): built in {report["build_s"]:.2f} s; report.html
{report["html_bytes"] / 1024:.0f} KiB, report.json {report["json_bytes"] / 1024:.0f} KiB
(budget 2 MB). The HTML is static (inline CSS + SVG, no script to run), so a browser renders
it at once; it was not timed in a browser (no Chromium on this machine).

{full_text}
{MARK_END}"""


def main() -> int:
    seconds = float(os.environ.get("BENCH_GAMEDAY_S", "20"))
    with tempfile.TemporaryDirectory(prefix="ialr-bench-gameday-") as tmp:
        base = Path(tmp)
        runs = [loadgen_run(rate, seconds, base) for rate in (50.0, 500.0)]
        for run in runs:
            print(json.dumps(run), flush=True)
        report = report_run(base)
        print(json.dumps(report), flush=True)
        full = full_gameday(base)
        if full is not None:
            print(json.dumps(full), flush=True)
    sections.write_section(render(runs, report, full), MARK_START, MARK_END)
    fast = runs[1]
    ok = fast["rate_offered"] >= 0.99 * 500 and report["html_bytes"] < 2_000_000
    return 0 if ok and (fast["skew_ms"]["p99"] or 0) <= 5.0 else 1


if __name__ == "__main__":
    sys.exit(main())

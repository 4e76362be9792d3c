"""History of 10,000 runs: `ialr analyze` ≤ 2 s and `ialr kpis` ≤ 1 s (issue 11).

The history is generated (chaos runs of 20 experiments over 60 days, game days, drills,
backups, rollouts, with a recovery-time regression half way), then each command is run as a
user runs it, a whole `ialr` process, best of 5. Baselines measured in the same run: `ialr
version` (the start-up every command pays) and a plain read of every record from the store.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import _sections as sections
from ial_resilience.history import HistoryStore, Record, RecordKind

RUNS = 10_000
TRIALS = 5
MARK_START = "<!-- bench_history:start -->"
MARK_END = "<!-- bench_history:end -->"
COMMAND = "python -m benchmarks bench_history"
FAMILIES = ("network", "process", "resource", "http", "db", "dependency", "lb", "scaling")


def make_history(path: Path, runs: int = RUNS, seed: int = 7) -> None:
    rng = random.Random(seed)
    now = time.time()
    span = 60 * 86400.0
    records: list[Record] = []
    for i in range(runs):
        started = now - span + span * i / runs
        key = f"experiment-{i % 20}"
        ttr = rng.uniform(1, 3) * (3 if i > runs // 2 and i % 20 == 3 else 1)
        passed = rng.random() > 0.08
        if i % 10 == 9:
            day = f"day-{i}"
            records.append(
                Record(
                    day,
                    RecordKind.GAMEDAY,
                    "quick",
                    "quick game day",
                    "passed",
                    started,
                    figures={
                        "requests": 1500,
                        "failed_requests": rng.randint(0, 3),
                        "availability": 0.999,
                        "alert_accuracy": 0.8,
                    },
                )
            )
            records.append(
                Record(
                    f"{day}-alerts",
                    RecordKind.ALERT_ACCURACY,
                    "quick",
                    "a",
                    "failed",
                    started,
                    parent_id=day,
                    figures={"accuracy": rng.uniform(0.6, 1.0), "false_positive_rate": 0.0},
                )
            )
            continue
        records.append(
            Record(
                f"run-{i}",
                RecordKind.CHAOS_RUN,
                key,
                key.replace("-", " "),
                "passed" if passed else "deviated",
                started,
                started + 30,
                figures={"passed": passed, "time_to_recover_s": ttr, "faults": 1, "landed": True},
                data={
                    "families": [FAMILIES[i % 8]],
                    "faults": [f"{FAMILIES[i % 8]}.x"],
                    "reason": "r",
                },
            )
        )
    with HistoryStore.open(path) as store:
        store.add_many(records)


def best(argv: list[str], env: dict[str, str]) -> float:
    times = []
    for _ in range(TRIALS):
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - started)
        if done.returncode not in (0, 1):
            raise SystemExit(f"{argv} exited {done.returncode}: {done.stderr[-2000:]}")
    return min(times)


def read_all(path: Path) -> float:
    times = []
    for _ in range(TRIALS):
        started = time.perf_counter()
        with HistoryStore.open(path) as store:
            store.records()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="ialr-bench-history-") as tmp:
        path = Path(tmp) / "history.db"
        make_history(path)
        env = {**os.environ, "IALR_HISTORY": str(path)}
        ialr = [sys.executable, "-m", "ial_resilience.cli.main"]
        startup = best([*ialr, "version"], env)
        read = read_all(path)
        analyze = best([*ialr, "analyze", "--json"], env)
        kpis = best([*ialr, "kpis", "--json"], env)
        score = best([*ialr, "score", "--json"], env)
    rows = [
        ("`ialr analyze` (whole process)", analyze, 2.0),
        ("`ialr kpis` (whole process)", kpis, 1.0),
        ("`ialr score` (whole process)", score, 1.0),
    ]
    lines = [
        MARK_START,
        "## History: analyze, kpis, score over 10,000 runs",
        "",
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC with `{COMMAND}` ({RUNS:,} "
        f"generated results over 60 days, best of {TRIALS}; load average {load:.2f}). Baselines "
        f"in the same run: `ialr version` {startup * 1000:.0f} ms (start-up), reading every "
        f"record from the store {read * 1000:.0f} ms.",
        "",
        "| command | seconds | × `ialr version` | × read all | budget | result |",
        "|---|---|---|---|---|---|",
    ]
    failed = 0
    for name, seconds, budget in rows:
        ok = seconds <= budget
        failed += not ok
        lines.append(
            f"| {name} | {seconds:.2f} | {seconds / startup:.1f}× | "
            f"{seconds / read:.1f}× | ≤ {budget:g} s | {'pass' if ok else 'FAIL'} |"
        )
    lines.append(MARK_END)
    section = "\n".join(lines)
    print(section)
    sections.write_section(section, MARK_START, MARK_END)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

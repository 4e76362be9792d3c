"""Lab benchmarks: ``ialr lab up`` to healthy and ``ialr lab down``, over N cycles.

Each cycle runs the real CLI in a subprocess (``ialr lab up --json`` returns once every part
is healthy; ``ialr lab down`` once nothing is left) on a fresh state dir, and records the
wall time of each command, the runtime's own ``up_seconds`` (from the start of ``Lab.up`` to
healthy, without the CLI's import time), and whether anything was left running. Baseline in
the same run: one bare PostgreSQL (initdb + start + stop) with the same wheel, the slowest
single thing the lab has to do without the template copy.

Run: ``python -m benchmarks bench_lab`` (env ``BENCH_LAB_CYCLES``, default 5).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks import _sections as sections
from ial_resilience.postgres import PostgresInstance

MARK_START, MARK_END = "<!-- bench_lab:start -->", "<!-- bench_lab:end -->"
UP_BUDGET_S, DOWN_BUDGET_S = 10.0, 3.0


def _ialr(*args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "ial_resilience.cli.main", *args],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    return time.monotonic() - started, result


def _left(state_dir: Path) -> list[int]:
    return [
        p.info["pid"] for p in psutil.process_iter(["pid", "cmdline"])
        if str(state_dir) in " ".join(p.info["cmdline"] or [])
    ]  # fmt: skip


def one_cycle(state_dir: Path) -> dict[str, Any]:
    up_s, up = _ialr("lab", "up", "--state-dir", str(state_dir), "--json")
    if up.returncode != 0:
        raise RuntimeError(f"lab up failed: {up.stderr[-2000:]}")
    info = json.loads(up.stdout)
    down_s, down = _ialr("lab", "down", "--state-dir", str(state_dir), "--json")
    if down.returncode != 0:
        raise RuntimeError(f"lab down failed: {down.stderr[-2000:]}")
    return {"up_cli_s": up_s, "up_runtime_s": float(info["up_seconds"]), "down_cli_s": down_s,
            "down_runtime_s": float(json.loads(down.stdout)["seconds"]),
            "left": len(_left(state_dir))}  # fmt: skip


def cli_import_seconds() -> float:
    """Wall time of ``python -c 'import ial_resilience.cli.main'`` (every command pays it)."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "import ial_resilience.cli.main"], check=True)
    return time.monotonic() - started


def baseline_postgres(tmp: Path) -> float:
    started = time.monotonic()
    node = PostgresInstance(tmp / "bare")
    node.init().start()
    node.stop(mode="immediate")
    return time.monotonic() - started


def bench(cycles: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-lab-") as tmp:
        base = Path(tmp)
        warm = one_cycle(base / "warm")  # builds the PostgreSQL template once per machine
        runs = [one_cycle(base / f"s{i}") for i in range(cycles)]
        bare = baseline_postgres(base)
    load = os.getloadavg()[0]

    def stats(key: str) -> dict[str, float]:
        values = [r[key] for r in runs]
        return {"median": statistics.median(values), "max": max(values), "min": min(values)}

    return {
        "cycles": cycles, "warmup_up_cli_s": warm["up_cli_s"], "up_cli": stats("up_cli_s"),
        "up_runtime": stats("up_runtime_s"), "down_cli": stats("down_cli_s"),
        "down_runtime": stats("down_runtime_s"), "cli_import_s": cli_import_seconds(),
        "left_total": sum(r["left"] for r in runs), "bare_postgres_s": bare,
        "load_avg_1m": load, "cpus": os.cpu_count(),
    }  # fmt: skip


def _row(values: dict[str, float]) -> str:
    return " | ".join(f"{values[k]:.2f} s" for k in ("median", "min", "max"))


def render(result: dict[str, Any]) -> str:
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    up, rt, down = result["up_cli"], result["up_runtime"], result["down_cli"]
    down_rt = result["down_runtime"]
    ratio = up["median"] / result["bare_postgres_s"]
    return f"""{MARK_START}
## Lab (`python -m benchmarks bench_lab`, {date})

`ialr lab up --json` (a subprocess; returns once every part is healthy: agent, PostgreSQL
writer + streaming replica, payments, control plane with LB, 2 API replicas healthy at the
LB) and `ialr lab down`, {result["cycles"]} cycles on fresh state dirs after one warm-up
cycle; {result["cpus"]} cores shared with other work (load average {result["load_avg_1m"]:.1f}
at the end).

| | median | min | max | budget |
|---|---|---|---|---|
| `lab up` (CLI wall time) | {_row(up)} | {UP_BUDGET_S:.0f} s |
| `Lab.up()` inside it (no CLI imports) | {_row(rt)} | |
| `lab down` (CLI wall time) | {_row(down)} | {DOWN_BUDGET_S:.0f} s |
| `Lab.down()` inside it (no CLI imports) | {_row(down_rt)} | |

Every `ialr` command first imports the whole CLI (all command groups):
{result["cli_import_s"]:.2f} s in this run, included in the CLI wall times above.

Processes left behind after `down`, all cycles: {result["left_total"]}. Baseline in the same
run: one bare PostgreSQL initdb + start + stop takes {result["bare_postgres_s"]:.2f} s; a
whole lab up is {ratio:.1f}× that. The first `up` on a machine also builds the initdb template
(warm-up cycle: {result["warmup_up_cli_s"]:.2f} s).

Where the time goes: every part is a fresh Python process (Starlette, uvicorn, psycopg,
httpx imports cost 0.3–0.8 s each on an idle core, several times that on a loaded one); the
writer is a copy of a cached initdb template; the replica starts with the writer and retries
`pg_basebackup` until it answers; the LB needs 2 passing health checks (250 ms apart) per
replica. `down` SIGKILLs the stateless control plane, stops every other part's process group
at once (PostgreSQL with SIGINT, fast shutdown), then the agent.
{MARK_END}"""


def main() -> int:
    result = bench(int(os.environ.get("BENCH_LAB_CYCLES", "5")))
    print(json.dumps(result), flush=True)
    sections.write_section(render(result), MARK_START, MARK_END)
    ok = (
        result["up_cli"]["median"] <= UP_BUDGET_S
        and result["down_runtime"]["median"] <= DOWN_BUDGET_S
        and result["left_total"] == 0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

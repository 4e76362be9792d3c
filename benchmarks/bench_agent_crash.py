"""Agent crash → repair: how soon a process the agent paused runs again after ``kill -9``.

For each trial: start an agent (as the tests do), adopt a sleeping process, pause it through
the agent's fault API, SIGKILL the agent and time until the process is no longer stopped (the
watchdog's SIGCONT). "cold": the agent is killed at once (its watchdog may still be loading);
"warm": 2.5 s after the agent started. No target in the issue; the figure is a guarantee
("faults always end, even if the tool crashed") made measurable.

Run: ``python -m benchmarks bench_agent_crash`` (rewrites its section of BENCHMARKS.md).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from tests.agent_fixtures import start_agent

from benchmarks import _sections as sections

COMMAND = "python -m benchmarks bench_agent_crash"
MARK_START = "<!-- bench_agent_crash:start -->"
MARK_END = "<!-- bench_agent_crash:end -->"
TRIALS = 8
WARM_S = 2.5
RESUME_TIMEOUT_S = 10.0


def trial(warm: bool) -> float:
    """Milliseconds from SIGKILL of the agent to its paused process running again."""
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        with tempfile.TemporaryDirectory() as tmp, start_agent(Path(tmp) / "state") as agent:
            agent.client.add_process("victim", pid=victim.pid)
            if warm:
                time.sleep(WARM_S)  # past the watchdog's start
            agent.client.apply_faults(
                [{"kind": "pause", "target": {"process": "victim"}, "duration_ms": 120_000}]
            )
            if psutil.Process(victim.pid).status() != psutil.STATUS_STOPPED:
                raise RuntimeError("the pause fault did not stop the process")
            start = time.monotonic()
            agent.process.kill()
            while psutil.Process(victim.pid).status() == psutil.STATUS_STOPPED:
                if time.monotonic() - start > RESUME_TIMEOUT_S:
                    raise RuntimeError(f"still stopped {RESUME_TIMEOUT_S:.0f} s after the kill")
                time.sleep(0.0005)
            elapsed = time.monotonic() - start
            agent.process.wait()
            return elapsed * 1000
    finally:
        victim.send_signal(signal.SIGCONT)
        victim.kill()
        victim.wait()


def render(rows: dict[str, list[float]], seconds: float, load: float) -> str:
    lines = [
        MARK_START,
        "## Agent crash → repair",
        "",
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC with `{COMMAND}` ({seconds:.0f} "
        f"s; {os.cpu_count()} CPUs; load average before the run {load:.2f}). A real agent "
        "pauses an adopted process (`process.pause`), is killed with SIGKILL, and the time "
        "until the process runs again (its watchdog's SIGCONT) is measured from outside. "
        f"'warm' kills the agent {WARM_S} s after its start, 'cold' at once (its watchdog may "
        "still be importing).",
        "",
        "| agent killed | trials | median | max |",
        "|---|---|---|---|",
    ]
    for name, values in rows.items():
        lines.append(
            f"| {name} | {len(values)} | {statistics.median(values):.1f} ms | "
            f"{max(values):.1f} ms |"
        )
    lines.append(MARK_END)
    return "\n".join(lines)


def main() -> int:
    started = time.monotonic()
    load = os.getloadavg()[0]
    rows: dict[str, list[float]] = {}
    for name, warm in (("cold (at once)", False), (f"warm ({WARM_S} s after start)", True)):
        print(f"  {name}", flush=True)
        rows[name] = [trial(warm) for _ in range(TRIALS)]
    section = render(rows, time.monotonic() - started, load)
    print(section)
    sections.write_section(section, MARK_START, MARK_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())

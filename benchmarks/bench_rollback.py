"""Rollback in the lab: how fast a bad version is caught and rolled back, and how often a good
one is rolled back by mistake.

    python -m benchmarks bench_rollback      (IALR_BENCH_ROLLBACK_TRIALS=10 by default)

One lab (``lab up`` in a temporary state dir); then ``TRIALS`` rollouts of ``v2-errors``
(20 % of requests fail) and ``TRIALS`` of good builds (``v1.1`` and ``v1`` in turn), each
through :class:`~ial_resilience.rollback.rollout.Rollout` with the defaults of ``ialr deploy``
(its own 20 req/s through the LB). Figures: time to detect (canary start → trigger) and to be
fully rolled back (canary start → every replica on the previous version and healthy), p50 and
p99 over the trials, against the targets 15 s and 30 s; the false-rollback count (target 0).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import _sections as sections

MARK_START, MARK_END = "<!-- bench_rollback:start -->", "<!-- bench_rollback:end -->"
TRIALS = int(os.environ.get("IALR_BENCH_ROLLBACK_TRIALS", "10"))
DETECT_TARGET_S, ROLLBACK_TARGET_S = 15.0, 30.0


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def one(state_dir: Path, info: Any, version: str) -> dict[str, Any]:
    from ial_resilience.lab.telemetry import store_path
    from ial_resilience.lab.versions import load_versions
    from ial_resilience.observability.store import open_store
    from ial_resilience.rollback.lab import LabDeployment
    from ial_resilience.rollback.rollout import Rollout

    deployment = LabDeployment(info.exports["control"], load_versions())
    store = open_store(store_path(state_dir))
    try:
        return Rollout(state_dir=state_dir, lb_url=info.exports["lb"], deployment=deployment,
                       store=store, version=version).run()  # fmt: skip
    finally:
        deployment.close()
        store.close()


def replicas(info: Any) -> dict[str, str]:
    from ial_resilience.lab.versions import load_versions
    from ial_resilience.rollback.lab import LabDeployment

    deployment = LabDeployment(info.exports["control"], load_versions())
    try:
        return deployment.replicas()
    finally:
        deployment.close()


def run() -> dict[str, Any]:
    from ial_resilience.lab import Lab

    with tempfile.TemporaryDirectory(prefix="ialr-bench-rollback-") as tmp:
        state_dir = Path(tmp) / "state"
        lab = Lab(state_dir)
        info = lab.up(timeout=120)
        bad: list[dict[str, Any]] = []
        good: list[dict[str, Any]] = []
        try:
            for _ in range(TRIALS):
                bad.append(one(state_dir, info, "v2-errors"))
            for _ in range(TRIALS):
                running = set(replicas(info).values())  # a false rollback leaves the old one
                good.append(one(state_dir, info, "v1" if running == {"v1.1"} else "v1.1"))
        finally:
            lab.down()
    return {"bad": bad, "good": good}


def render(result: dict[str, Any]) -> str:
    bad, good = result["bad"], result["good"]
    detect = [d["figures"]["time_to_detect_s"] for d in bad if d["figures"]["time_to_detect_s"]]
    full = [d["times"]["rolled_back_at"] - d["times"]["canary_started_at"] for d in bad
            if d["times"]["rolled_back_at"]]  # fmt: skip
    rolled = sum(d["status"] == "rolled_back" for d in bad)
    triggers: dict[str, int] = {}
    for d in bad:
        kind = (d["trigger"] or {}).get("kind", "none")
        triggers[kind] = triggers.get(kind, 0) + 1
    false = sum(bool(d["figures"]["rolled_back"]) for d in good)
    completed = sum(d["status"] == "completed" for d in good)

    def row(name: str, values: list[float], target: float) -> str:
        if not values:
            return f"| {name} | – | – | – | ≤ {target:.0f} s | no data |"
        p50, p99 = percentile(values, 50), percentile(values, 99)
        return (f"| {name} | {p50:.1f} s | {p99:.1f} s | {max(values):.1f} s | ≤ {target:.0f} s "
                f"| {'met' if p99 <= target else 'MISSED'} |")  # fmt: skip

    load = os.getloadavg()[0]
    return f"""{MARK_START}
## Rollback in the lab (`bench_rollback`)

`python -m benchmarks bench_rollback` — one lab, {len(bad)} rollouts of `v2-errors` (20 % of
requests fail) and {len(good)} of good builds (`v1.1`/`v1` in turn), each with the defaults
of `ialr deploy` (canary 10 s, 20 req/s of its own traffic, alpha 0.01, 30 samples a side).
Measured {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())} on {platform.machine()},
{os.cpu_count()} cores, load {load:.1f} (shared machine).

| bad version `v2-errors` | p50 | p99 | max | target | |
|---|---|---|---|---|---|
{row("canary start → detected", detect, DETECT_TARGET_S)}
{row("canary start → fully rolled back", full, ROLLBACK_TARGET_S)}

Bad rollouts rolled back: {rolled}/{len(bad)}; triggers: {
        ", ".join(f"{k} {v}" for k, v in sorted(triggers.items()))
    }. Mean detection {statistics.fmean(detect) if detect else 0:.1f} s.

Good deployments: {completed}/{len(good)} completed, **{false} false rollbacks** (target 0).
With {len(bad) + len(good)} trials this bounds rates, it does not prove them: 0 false
rollbacks in {len(good)} says the rate is below ~{1 - 0.05 ** (1 / max(1, len(good))):.0%}
(95 % one-sided), no more.
{MARK_END}"""


def main() -> int:
    result = run()
    dump = Path(tempfile.gettempdir()) / "ialr-bench-rollback.json"
    dump.write_text(json.dumps(result, indent=1), encoding="utf-8")  # every decision record
    section = render(result)
    sections.write_section(section, MARK_START, MARK_END)
    print(section)
    return 0

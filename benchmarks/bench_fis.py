"""AWS FIS provider: rendering the library, and how fast a stop is seen (against moto).

1. ``render``: load, check and render every experiment of ``chaos/`` (the refused ones too,
   as ``ialr chaos render chaos/`` does) against ``examples/aws-scope.yaml``; baseline: only
   loading the same files. Goal: the whole library ≤ 1 s.
2. ``stop``: StopExperiment on a running FIS experiment → ``stopping`` then ``stopped`` seen
   by the provider, against a moto server over HTTP (its state manager set to one state per
   GetExperiment); baseline: one plain GetExperiment round trip. Goal: ``stopping`` ≤ 2 s.

Run: ``python -m benchmarks bench_fis`` (``BENCH_FIS_N`` repetitions, default 30).
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks._sections import write_section

ROOT = Path(__file__).parents[1]
MARK_START, MARK_END = "<!-- bench_fis:start -->", "<!-- bench_fis:end -->"
ROLE = "arn:aws:iam::123456789012:role/ialr-fis-ecs"


def _variables(path: Path) -> dict[str, str]:
    names = set(re.findall(r"\$\{([^}$]+)\}", path.read_text(encoding="utf-8")))
    return {name: "http://127.0.0.1:9" for name in names}


def library() -> list[Path]:
    return sorted(p for p in (ROOT / "chaos").rglob("*.yaml") if "\nmethod:" in p.read_text())


def bench_render(n: int) -> dict[str, Any]:
    from ial_resilience.aws.fis import check, load_scope, render_template
    from ial_resilience.spec import load_experiment

    files = library()
    variables = {f: _variables(f) for f in files}
    loads, renders = [], []
    rendered = refused = 0
    for _ in range(n):
        t0 = time.perf_counter()
        for f in files:
            load_experiment(f, variables[f])
        loads.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        scope = load_scope(ROOT / "examples" / "aws-scope.yaml")
        rendered = refused = 0
        for f in files:
            experiment = load_experiment(f, variables[f])
            if check(experiment, scope):
                refused += 1
            else:
                json.dumps(render_template(experiment, scope, role_arn=ROLE))
                rendered += 1
        renders.append(time.perf_counter() - t0)
    load_ms, render_ms = statistics.median(loads) * 1e3, statistics.median(renders) * 1e3
    return {
        "files": len(files),
        "rendered": rendered,
        "refused": refused,
        "load_ms": load_ms,
        "render_ms": render_ms,
        "render_max_ms": max(renders) * 1e3,
        "ratio": render_ms / load_ms,
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bench_stop(n: int) -> dict[str, Any]:
    from moto.server import ThreadedMotoServer

    from ial_resilience.aws._session import AwsTarget, client
    from ial_resilience.aws.fis_provider import AwsProvider, Followed

    with tempfile.TemporaryDirectory() as home:
        for name, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench"),
                            ("AWS_CONFIG_FILE", f"{home}/c"),
                            ("AWS_SHARED_CREDENTIALS_FILE", f"{home}/k")):  # fmt: skip
            os.environ[name] = value
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        port = _free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        endpoint = f"http://127.0.0.1:{port}"
        try:
            httpx.post(
                f"{endpoint}/moto-api/state-manager/set-transition",
                json={"model_name": "fis::experiment",
                      "transition": {"progression": "manual", "times": 1}},
                timeout=5,
            ).raise_for_status()  # fmt: skip
            target = AwsTarget(region="us-east-1", endpoint_url=endpoint)
            fis = client("fis", target)
            provider = AwsProvider(None, target, poll=0.05)
            template = fis.create_experiment_template(
                description="bench", roleArn=ROLE, stopConditions=[{"source": "none"}],
                actions={"wait": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1M"}}},
            )["experimentTemplate"]["id"]  # fmt: skip
            gets, stopping, stopped = [], [], []
            for _ in range(n):
                experiment = fis.start_experiment(experimentTemplateId=template)["experiment"]
                status = "pending"
                while status != "running":
                    t0 = time.perf_counter()
                    status = fis.get_experiment(id=experiment["id"])["experiment"]["state"][
                        "status"
                    ]
                    gets.append(time.perf_counter() - t0)
                followed = Followed(experiment["id"])
                provider.stop_experiment(experiment["id"], followed)
                asked = followed.stop_requested or 0.0
                stopping.append(next(t for t, s in followed.states if s == "stopping") - asked)
                stopped.append(next(t for t, s in followed.states if s == "stopped") - asked)
        finally:
            server.stop()
    get_ms = statistics.median(gets) * 1e3
    return {
        "runs": n,
        "get_ms": get_ms,
        "stopping_ms": statistics.median(stopping) * 1e3,
        "stopping_max_ms": max(stopping) * 1e3,
        "stopped_ms": statistics.median(stopped) * 1e3,
        "stopped_max_ms": max(stopped) * 1e3,
        "stopping_ratio": statistics.median(stopping) * 1e3 / get_ms,
        "stopped_ratio": statistics.median(stopped) * 1e3 / get_ms,
    }


def render(r: dict[str, Any], s: dict[str, Any], n: int) -> str:
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    render_row = (
        f"| {r['load_ms']:.1f} ms | {r['render_ms']:.1f} ms | {r['ratio']:.2f}× | "
        f"{r['render_max_ms']:.1f} ms | ≤ 1000 ms |"
    )
    stop_head = (
        "| GetExperiment | `stopping` seen | `stopped` seen | ratio (stopping / stopped) | "
        "max stopping / stopped | goal |"
    )
    stop_row = (
        f"| {s['get_ms']:.1f} ms | {s['stopping_ms']:.1f} ms | {s['stopped_ms']:.1f} ms | "
        f"{s['stopping_ratio']:.1f}× / {s['stopped_ratio']:.1f}× | "
        f"{s['stopping_max_ms']:.1f} / {s['stopped_max_ms']:.1f} ms | stopping ≤ 2000 ms |"
    )
    return f"""{MARK_START}
## AWS FIS provider (`BENCH_FIS_N={n} python -m benchmarks bench_fis`, {date})

Render the whole library (`chaos/`, {r["files"]} experiment files: {r["rendered"]} rendered,
{r["refused"]} refused with file:line: no FIS action for their fault, or none on the scope's
resource type) against `examples/aws-scope.yaml`, median of {n}; baseline: loading the same
files. Load average at the start: {os.getloadavg()[0]:.1f} (2 cores, shared).

| load only | load + check + render | ratio | slowest render | goal |
|---|---|---|---|---|
{render_row}

Stop latency against a moto server over HTTP ({s["runs"]} running experiments; moto's state
manager advances one state per GetExperiment): from StopExperiment sent to the state seen by
the provider; baseline: one GetExperiment round trip.

{stop_head}
|---|---|---|---|---|---|
{stop_row}

moto answers StopExperiment with `stopping` (so it is seen with the answer) and `stopped` on
the next read; on AWS `stopping` lasts as long as the actions take to roll back.
{MARK_END}"""


def main() -> int:
    n = int(os.environ.get("BENCH_FIS_N", "30"))
    r = bench_render(n)
    s = bench_stop(n)
    write_section(render(r, s, n), MARK_START, MARK_END)
    print(json.dumps({"render": r, "stop": s}, indent=1))
    ok = r["render_ms"] <= 1000 and s["stopping_max_ms"] <= 2000
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

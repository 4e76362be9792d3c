"""What tracing costs the lab's requests: sampled vs unsampled, interleaved, in one run.

With a running lab (``ialr lab up``)::

    python -m ial_resilience.lab.trace_cost --requests 400 [--state-dir DIR] [--method POST]

Every request goes through the LB with a W3C ``traceparent``; alternate requests are marked
sampled (``-01``: the LB, the replica, psycopg and payments record and export spans) and not
sampled (``-00``: the same middleware runs, every span is a non-recording no-op). Both kinds
share the same lab, connections and moment, so the difference is the cost of recording spans.
Prints p50/p95/p99 (ms, client-side) per kind and their ratio, as JSON.
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from pathlib import Path
from typing import Any

import httpx

from ial_resilience.lab.runtime import Lab
from ial_resilience.probes.stats import latency_statistics


def _summary(values: list[float]) -> dict[str, float | None]:
    stats = latency_statistics(values)
    return {"n": len(values), **{k: stats[k] for k in ("p50_ms", "p95_ms", "p99_ms", "mean_ms")}}


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def measure(url: str, requests: int, method: str = "GET") -> dict[str, Any]:
    """``requests`` requests to ``url`` alternating sampled and unsampled; latencies in ms."""
    timings: dict[str, list[float]] = {"sampled": [], "unsampled": []}
    body = {"item": "trace-cost", "amount": 1.0} if method == "POST" else None
    with httpx.Client(timeout=10) as client:
        for index in range(requests):
            kind = "sampled" if index % 2 == 0 else "unsampled"
            flags = "01" if kind == "sampled" else "00"
            header = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-{flags}"
            began = time.perf_counter()
            client.request(method, url, json=body, headers={"traceparent": header})
            timings[kind].append((time.perf_counter() - began) * 1000)
    sampled, unsampled = _summary(timings["sampled"]), _summary(timings["unsampled"])
    return {
        "url": url,
        "method": method,
        "sampled": sampled,
        "unsampled": unsampled,
        "p50_ratio": _ratio(sampled["p50_ms"], unsampled["p50_ms"]),
        "p95_ratio": _ratio(sampled["p95_ms"], unsampled["p95_ms"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="ial_resilience.lab.trace_cost")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--method", choices=("GET", "POST"), default="GET")
    parser.add_argument("--state-dir", type=Path, default=None)
    args = parser.parse_args()
    info = Lab(args.state_dir).require()
    result = measure(f"{info.exports['lb']}/orders", args.requests, args.method)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

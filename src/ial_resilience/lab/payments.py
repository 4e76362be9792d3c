"""The lab's payments dependency (an external API) with configurable latency and error rate.

``POST /charge`` → 200 ``{"status": "charged", "id": …}`` after ``latency_ms`` (± ``jitter_ms``),
or 502 with probability ``error_rate``. ``GET|POST /control`` reads or changes the behaviour
(``{"latency_ms": 50, "jitter_ms": 0, "error_rate": 0.1}``); ``GET /health``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
from dataclasses import asdict, dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ial_resilience.lab import telemetry as lab_telemetry
from ial_resilience.lab._serve import serve


@dataclass
class Behaviour:
    latency_ms: float = 5.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0

    def update(self, data: dict[str, object]) -> list[str]:
        """Apply the known keys of ``data``; the problems found (nothing applied then)."""
        problems = []
        values: dict[str, float] = {}
        for key, value in data.items():
            if key not in ("latency_ms", "jitter_ms", "error_rate"):
                problems.append(f"unknown key {key!r}")
            elif not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                problems.append(f"{key} must be a number >= 0")
            elif key == "error_rate" and value > 1:
                problems.append("error_rate must be between 0 and 1")
            else:
                values[key] = float(value)
        if not problems:
            for key, number in values.items():
                setattr(self, key, number)
        return problems


def build_app(behaviour: Behaviour) -> Starlette:
    ids = itertools.count(1)
    charged = {"ok": 0, "failed": 0}

    async def charge(request: Request) -> JSONResponse:
        delay = behaviour.latency_ms + random.uniform(-1, 1) * behaviour.jitter_ms
        await asyncio.sleep(max(0.0, delay) / 1000)
        if random.random() < behaviour.error_rate:
            charged["failed"] += 1
            return JSONResponse({"error": "payment processor failed"}, status_code=502)
        charged["ok"] += 1
        return JSONResponse({"status": "charged", "id": next(ids)})

    async def control(request: Request) -> JSONResponse:
        if request.method == "POST":
            try:
                data = json.loads(await request.body())
            except ValueError:
                return JSONResponse({"error": "body is not JSON"}, status_code=400)
            if not isinstance(data, dict):
                return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
            problems = behaviour.update(data)
            if problems:
                return JSONResponse({"error": "; ".join(problems)}, status_code=422)
        return JSONResponse({**asdict(behaviour), "charges": dict(charged)})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/charge", charge, methods=["POST"]),
            Route("/control", control, methods=["GET", "POST"]),
            Route("/health", health),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="ial_resilience.lab.payments")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    args = parser.parse_args()
    telemetry = lab_telemetry.setup("payments")
    app = build_app(Behaviour(latency_ms=args.latency_ms))
    lab_telemetry.instrument(app, telemetry, "payments")
    try:
        serve(app, args.port)
    finally:
        telemetry.close()


if __name__ == "__main__":
    main()

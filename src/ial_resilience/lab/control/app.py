"""The control plane process: LB on ``--lb-port``, control API on ``--port``.

``python -m ial_resilience.lab.control.app --fleet FLEET.json --lb-port P --port C``
(the agent's state dir comes from ``$IALR_STATE_DIR``).

Control API (JSON; loopback only):

| method path | answer |
|---|---|
| GET `/health` | 200 once ``min_replicas`` targets are healthy at the LB, else 503 |
| GET `/v1/status` | `{"lb", "supervisor", "autoscaler", "database"}` |
| GET `/v1/lb/targets` | target list (name, address, state, requests) and `events` |
| POST `/v1/lb/targets` `{"name", "address"}` | register a target |
| DELETE `/v1/lb/targets/{name}` | deregister it |
| GET `/v1/supervisor` | replicas with pid, restarts, restart_times |
| GET `/v1/autoscaler` | state |
| POST `/v1/autoscaler/config` `{"target_rps"}` | tuning |
| POST `/v1/autoscaler/limit` `{"id", "limit", "duration_s"}` | capacity limit on |
| DELETE `/v1/autoscaler/limit/{id}` | capacity limit off (evidence) |
| POST `/v1/db/failover` | promote the replica, repoint `api->db` (evidence) |
| GET `/v1/deploy` | `{"default": version of new replicas, "replicas": [{name, version, alive}]}` |
| POST `/v1/deploy/default` `{"version", "env"}` | the version new replicas start with |
| POST `/v1/deploy/replicas/{name}` `{"version", "env"}` | replace it by one of that version |
| GET `/metrics` | Prometheus text of the LB |

Infrastructure metrics into the lab's telemetry store (when ``IALR_TELEMETRY_STORE`` is set),
every ``GAUGE_EVERY_S``: ``lb.targets`` {service, state: initial|healthy|unhealthy} (the target
group's HealthyHostCount / UnHealthyHostCount), ``service.replicas.desired`` {service} (ECS
DesiredTaskCount: the autoscaler's desired count) and ``service.replicas.running`` {service}
(RunningTaskCount: replicas whose process is alive). The supervisor adds ``service.restarts``
and the DB endpoint ``db.failovers`` as they happen.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ial_resilience.agent.client import AgentClient
from ial_resilience.errors import IalrError
from ial_resilience.lab import telemetry as lab_telemetry
from ial_resilience.lab._serve import config as uvicorn_config
from ial_resilience.lab.control.autoscaler import Autoscaler
from ial_resilience.lab.control.database import DatabaseEndpoint
from ial_resilience.lab.control.fleet import FleetConfig
from ial_resilience.lab.control.lb import LoadBalancer
from ial_resilience.lab.control.supervisor import Supervisor
from ial_resilience.observability import metrics as obs_metrics
from ial_resilience.observability.instrument import TracingMiddleware

log = logging.getLogger("ialr.lab.control")
Handler = Callable[[Request], Awaitable[Any]]
GAUGE_EVERY_S = 0.5  # twice the LB's health-check interval: every state change is seen


class ControlPlane:
    def __init__(self, config: FleetConfig, agent: AgentClient, *, traced: bool = False) -> None:
        self.config = config
        self.lb = LoadBalancer(traced=traced)
        self.supervisor = Supervisor(config, agent, self.lb)
        self.autoscaler = Autoscaler(
            self.supervisor, self.lb, config.min_replicas, config.max_replicas, config.target_rps
        )
        self.database = DatabaseEndpoint(config, agent)

    async def start(self) -> list[asyncio.Task[None]]:
        async with self.supervisor.lock:
            for _ in range(self.config.min_replicas):
                await self.supervisor.add()
        return [
            asyncio.create_task(self.lb.health_loop()),
            asyncio.create_task(self.supervisor.run()),
            asyncio.create_task(self.autoscaler.run()),
            asyncio.create_task(self.gauge_loop()),
        ]

    def record_gauges(self) -> None:
        """One sample of the target states and the desired/running replica counts."""
        service = self.config.service
        for state, count in self.lb.state_counts().items():
            obs_metrics.gauge("lb.targets", float(count), service=service, state=str(state))
        running = float(sum(1 for r in self.supervisor.replicas.values() if r.alive))
        obs_metrics.gauge("service.replicas.desired", float(self.autoscaler.desired),
                          service=service)  # fmt: skip
        obs_metrics.gauge("service.replicas.running", running, service=service)

    async def gauge_loop(self) -> None:
        while True:
            self.record_gauges()
            await asyncio.sleep(GAUGE_EVERY_S)

    def healthy(self) -> bool:
        return len(self.lb.healthy()) >= self.config.min_replicas

    def status(self) -> dict[str, Any]:
        return {
            "lb": {"targets": self.lb.targets(), "requests_total": self.lb.requests_total,
                   "in_flight": self.lb.in_flight, "events": list(self.lb.events)[-100:]},
            "supervisor": self.supervisor.status(),
            "autoscaler": self.autoscaler.status(),
            "database": self.database.status(),
        }  # fmt: skip


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": "bad_request", "message": message}}, status_code=status)


async def _object(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body())
    except ValueError as error:
        raise ValueError(f"body is not JSON: {error}") from error
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def control_app(plane: ControlPlane) -> Starlette:
    def route(path: str, handler: Handler, method: str = "GET") -> Route:
        async def endpoint(request: Request) -> Response:
            try:
                result = await handler(request)
            except (ValueError, KeyError, TypeError) as error:
                return _error(400, str(error))
            except IalrError as error:
                return _error(409, error.message)
            return result if isinstance(result, Response) else JSONResponse(result)

        return Route(path, endpoint, methods=[method])

    async def health(request: Request) -> Response:
        body = {"ok": plane.healthy(), "healthy_targets": len(plane.lb.healthy())}
        return JSONResponse(body, status_code=200 if body["ok"] else 503)

    async def register(request: Request) -> Any:
        data = await _object(request)
        return plane.lb.register(str(data["name"]), str(data["address"])).snapshot()

    async def deregister(request: Request) -> Any:
        name = request.path_params["name"]
        if not plane.lb.deregister(name):
            return _error(404, f"no target named {name!r}")
        return {"deregistered": name}

    async def configure(request: Request) -> Any:
        data = await _object(request)
        rps = float(data["target_rps"])
        if rps <= 0:
            raise ValueError("target_rps must be > 0")
        plane.autoscaler.target_rps = rps
        return plane.autoscaler.status()

    async def impose(request: Request) -> Any:
        data = await _object(request)
        limit, duration = int(data["limit"]), float(data["duration_s"])
        if limit < 0 or not 0 < duration <= 86_400:
            raise ValueError("limit must be >= 0 and duration_s in (0, 86400]")
        return plane.autoscaler.impose(
            str(data.get("id") or "capacity-limit"), limit, duration
        ).evidence()

    async def lift(request: Request) -> Any:
        lifted = plane.autoscaler.lift(request.path_params["limit_id"])
        return lifted.evidence() if lifted else _error(404, "no such capacity limit")

    async def failover(request: Request) -> Any:
        return await run_in_threadpool(plane.database.failover)

    async def metrics(request: Request) -> Response:
        text = plane.lb.metrics() + plane.autoscaler.metrics()
        return Response(text, media_type="text/plain; version=0.0.4")

    async def targets(request: Request) -> Any:
        return {"targets": plane.lb.targets(), "events": list(plane.lb.events)}

    async def status(request: Request) -> Any:
        return plane.status()

    def deployment() -> dict[str, Any]:
        name, _ = plane.supervisor.version
        replicas = [{"name": r.name, "version": r.version, "alive": r.alive}
                    for r in plane.supervisor.replicas.values()]  # fmt: skip
        return {"default": name, "replicas": replicas}

    async def deploy_status(request: Request) -> Any:
        return deployment()

    async def deploy_default(request: Request) -> Any:
        data = await _object(request)
        env = {str(k): str(v) for k, v in dict(data.get("env") or {}).items()}
        plane.supervisor.version = (str(data["version"]), env)
        return deployment()

    async def deploy_replica(request: Request) -> Any:
        data = await _object(request)
        env = {str(k): str(v) for k, v in dict(data.get("env") or {}).items()}
        async with plane.supervisor.lock:
            replica = await plane.supervisor.redeploy(
                request.path_params["name"], str(data["version"]), env
            )
        return replica.snapshot()

    async def supervisor(request: Request) -> Any:
        return plane.supervisor.status()

    async def autoscaler(request: Request) -> Any:
        return plane.autoscaler.status()

    return Starlette(
        routes=[
            Route("/health", health),
            route("/v1/status", status),
            route("/v1/lb/targets", targets),
            route("/v1/lb/targets", register, "POST"),
            route("/v1/lb/targets/{name}", deregister, "DELETE"),
            route("/v1/supervisor", supervisor),
            route("/v1/autoscaler", autoscaler),
            route("/v1/autoscaler/config", configure, "POST"),
            route("/v1/autoscaler/limit", impose, "POST"),
            route("/v1/autoscaler/limit/{limit_id}", lift, "DELETE"),
            route("/v1/db/failover", failover, "POST"),
            route("/v1/deploy", deploy_status),
            route("/v1/deploy/default", deploy_default, "POST"),
            route("/v1/deploy/replicas/{name}", deploy_replica, "POST"),
            Route("/metrics", metrics),
        ]
    )


def lb_app(plane: ControlPlane) -> Starlette:
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    middleware = [Middleware(TracingMiddleware)] if plane.lb.traced else []
    return Starlette(
        routes=[Route("/{path:path}", plane.lb.proxy, methods=methods)], middleware=middleware
    )


async def serve(plane: ControlPlane, lb_port: int, port: int) -> None:
    lb_server = uvicorn.Server(uvicorn_config(lb_app(plane), lb_port))
    control_server = uvicorn.Server(uvicorn_config(control_app(plane), port))
    tasks = await plane.start()
    try:
        await asyncio.gather(lb_server.serve(), control_server.serve())
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await plane.lb.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="ial_resilience.lab.control.app")
    parser.add_argument("--fleet", type=Path, required=True)
    parser.add_argument("--lb-port", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, default=None, help="the agent's state dir")
    parser.add_argument("--db-link", default="api->db")
    parser.add_argument("--db-primary", default="", help="PROCESS=HOST:PORT of the writer")
    parser.add_argument("--db-replica", default="", help="PROCESS=HOST:PORT of the replica")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    agent = AgentClient.from_state_dir(args.state_dir, timeout=10.0)
    primary, _, primary_address = args.db_primary.partition("=")
    replica, _, replica_address = args.db_replica.partition("=")
    config = dataclasses.replace(
        FleetConfig.read(args.fleet), db_link=args.db_link,
        db_primary=primary, db_primary_address=primary_address,
        db_replica=replica, db_replica_address=replica_address,
    )  # fmt: skip
    telemetry = lab_telemetry.setup("lb", with_metrics=True)
    plane = ControlPlane(config, agent, traced=telemetry.traced)
    try:
        asyncio.run(serve(plane, args.lb_port, args.port))
    finally:
        telemetry.close()


if __name__ == "__main__":
    main()

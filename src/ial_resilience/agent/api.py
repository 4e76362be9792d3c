"""The agent's HTTP control API (Starlette). The only place where HTTP meets the domain.

Every route but ``/v1/health`` and ``/metrics`` needs ``Authorization: Bearer <token>``
(compared in constant time). Bad input of any kind gets a 4xx with
``{"error": {"code": …, "message": …}}``; a 500 means a bug and is logged with its traceback.
Every state-changing request is logged on one line: who, what, result.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ial_resilience import __version__
from ial_resilience.agent.errors import Conflict, FaultApplyFailed, NotFound
from ial_resilience.agent.metrics import CONTENT_TYPE
from ial_resilience.agent.models import AdoptRequest, FaultSet, LinkRequest, SpawnRequest
from ial_resilience.agent.service import Agent
from ial_resilience.errors import FaultRejected, IalrError, InputError

MAX_BODY = 1 << 20
Answer = tuple[int, Any, str]  # status, JSON payload, one-line summary for the audit log
Handler = Callable[[Request], Awaitable[Answer]]


class BadBody(InputError):
    pass


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _classify(error: Exception) -> tuple[int, str, str]:
    """Map a domain error to (HTTP status, error code, message)."""
    if isinstance(error, (NotFound, Conflict, FaultApplyFailed)):
        return error.status, error.code, error.message
    if isinstance(error, FaultRejected):
        return 422, "fault_rejected", error.message
    if isinstance(error, ValidationError):
        return 422, "invalid_body", _validation_message(error)
    if isinstance(error, BadBody):
        return 400, "malformed_body", error.message
    if isinstance(error, IalrError):
        return 400, "bad_request", error.message
    return 500, "internal", f"internal error ({type(error).__name__}); see agent.log"


def _validation_message(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "body"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


async def read_object(request: Request) -> dict[str, Any]:
    """The JSON object in the body, or :class:`BadBody`."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise BadBody(f"body of {len(raw)} bytes is above the limit of {MAX_BODY}")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadBody(f"body is not JSON: {error}") from error
    except RecursionError as error:
        raise BadBody("body is nested too deeply") from error
    if not isinstance(data, dict):
        raise BadBody(f"body must be a JSON object, not {type(data).__name__}")
    return data


class Api:
    """Routes bound to one agent and one token."""

    def __init__(self, agent: Agent, token: str, audit: logging.Logger) -> None:
        self.agent, self._token, self._audit = agent, token.encode(), audit

    def authorized(self, request: Request) -> bool:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self._token
        )

    def route(self, path: str, handler: Handler, method: str, *, auth: bool = True) -> Route:
        changes = method != "GET"

        async def endpoint(request: Request) -> Response:
            status, payload, summary = await self._answer(request, handler, auth)
            if changes:
                client = request.client
                who = f"{client.host}:{client.port}" if client else "?"
                self._audit.info(
                    "%s %s %s -> %d %s", who, method, request.url.path, status, summary
                )
            try:
                return JSONResponse(payload, status_code=status)
            except ValueError:  # NaN or infinity somewhere in evidence: a bug, not bad input
                self._audit.exception("cannot render the answer to %s %s", method, request.url.path)
                body = error_body("internal", "the answer could not be rendered as JSON")
                return JSONResponse(body, status_code=500)

        return Route(path, endpoint, methods=[method])

    async def _answer(self, request: Request, handler: Handler, auth: bool) -> Answer:
        if auth and not self.authorized(request):
            message = "missing or wrong bearer token; read it from agent.token in the state dir"
            return 401, error_body("unauthorized", message), "unauthorized"
        try:
            return await handler(request)
        except Exception as error:
            status, code, message = _classify(error)
            if status >= 500:
                self._audit.exception("bug while serving %s %s", request.method, request.url.path)
            return status, error_body(code, message), f"{code}: {message}"

    # handlers -----------------------------------------------------------------------------

    async def health(self, request: Request) -> Answer:
        return 200, {"ok": True, "version": __version__, "pid": os.getpid()}, "health"

    async def status(self, request: Request) -> Answer:
        return 200, await run_in_threadpool(self.agent.status), "status"

    async def create_link(self, request: Request) -> Answer:
        link = LinkRequest.model_validate(await read_object(request))
        snapshot = await run_in_threadpool(self.agent.create_link, link)
        return 201, snapshot, f"link {link.name} {snapshot.get('listen')} -> {link.upstream}"

    async def delete_link(self, request: Request) -> Answer:
        name = request.path_params["name"]
        await run_in_threadpool(self.agent.delete_link, name)
        return 200, {"deleted": name}, f"deleted link {name}"

    async def update_link(self, request: Request) -> Answer:
        name = request.path_params["name"]
        data = await read_object(request)
        upstream = data.get("upstream")
        if not isinstance(upstream, str) or set(data) != {"upstream"}:
            raise BadBody('give exactly {"upstream": "host:port"} to repoint a link')
        snapshot = await run_in_threadpool(self.agent.links.repoint, name, upstream)
        return 200, snapshot, f"link {name} -> {upstream}"

    async def reset_link(self, request: Request) -> Answer:
        name = request.path_params["name"]
        count = await run_in_threadpool(self.agent.links.reset, name)
        return 200, {"reset": count}, f"reset {count} connection(s) on {name}"

    async def add_process(self, request: Request) -> Answer:
        data = await read_object(request)
        if ("argv" in data) == ("pid" in data):
            raise BadBody(
                "give either argv (the agent spawns the process) or pid (adopt), not both"
            )
        model = SpawnRequest if "argv" in data else AdoptRequest
        process = await run_in_threadpool(self.agent.add_process, model.model_validate(data))
        return 201, process, f"process {process['name']} pid {process['pid']}"

    async def respawn_process(self, request: Request) -> Answer:
        name = request.path_params["name"]
        process = await run_in_threadpool(self.agent.respawn_process, name)
        return 200, process, f"respawned {name} pid {process['pid']}"

    async def remove_process(self, request: Request) -> Answer:
        name = request.path_params["name"]
        process = await run_in_threadpool(self.agent.remove_process, name)
        return 200, process, f"removed process {name}"

    async def list_processes(self, request: Request) -> Answer:
        return 200, await run_in_threadpool(self.agent.processes.snapshots), "processes"

    async def apply_faults(self, request: Request) -> Answer:
        fault_set = FaultSet.model_validate(await read_object(request))
        faults = await run_in_threadpool(self.agent.faults.apply, fault_set.faults)
        what = ", ".join(
            f"{f['id']} {f['kind']} {f['target']} {f['duration_ms']}ms" for f in faults
        )
        return 201, {"faults": faults}, f"applied {what}"

    async def list_faults(self, request: Request) -> Answer:
        return 200, await run_in_threadpool(self.agent.faults.all_faults), "faults"

    async def get_fault(self, request: Request) -> Answer:
        fault_id = request.path_params["fault_id"]
        return 200, await run_in_threadpool(self.agent.faults.get, fault_id), "fault"

    async def revert_fault(self, request: Request) -> Answer:
        fault = await run_in_threadpool(self.agent.faults.revert, request.path_params["fault_id"])
        return 200, fault, f"fault {fault['id']} {fault['state']}"

    async def revert_all(self, request: Request) -> Answer:
        reverted = await run_in_threadpool(self.agent.faults.revert_all)
        return 200, {"reverted": reverted}, f"reverted {len(reverted)} fault(s)"

    async def metrics(self, request: Request) -> Response:
        body = await run_in_threadpool(self.agent.metrics.render)
        return Response(body, media_type=CONTENT_TYPE)

    def routes(self) -> list[Route]:
        return [
            self.route("/v1/health", self.health, "GET", auth=False),
            self.route("/v1/status", self.status, "GET"),
            self.route("/v1/links", self.create_link, "POST"),
            self.route("/v1/links/{name}", self.delete_link, "DELETE"),
            self.route("/v1/links/{name}", self.update_link, "PATCH"),
            self.route("/v1/links/{name}/reset", self.reset_link, "POST"),
            self.route("/v1/processes", self.add_process, "POST"),
            self.route("/v1/processes", self.list_processes, "GET"),
            self.route("/v1/processes/{name}/respawn", self.respawn_process, "POST"),
            self.route("/v1/processes/{name}", self.remove_process, "DELETE"),
            self.route("/v1/faults", self.apply_faults, "POST"),
            self.route("/v1/faults", self.list_faults, "GET"),
            self.route("/v1/faults/revert-all", self.revert_all, "POST"),
            self.route("/v1/faults/{fault_id}", self.get_fault, "GET"),
            self.route("/v1/faults/{fault_id}", self.revert_fault, "DELETE"),
            Route("/metrics", self.metrics, methods=["GET"]),
        ]


async def _http_error(request: Request, error: Exception) -> Response:
    status = error.status_code if isinstance(error, HTTPException) else 500
    detail = error.detail if isinstance(error, HTTPException) else "internal error"
    code = {404: "not_found", 405: "method_not_allowed"}.get(status, "http_error")
    message = f"{request.method} {request.url.path}: {detail}"
    return JSONResponse(error_body(code, message), status_code=status)


def build_app(agent: Agent, token: str, audit: logging.Logger) -> Starlette:
    """The ASGI application for ``agent``, guarded by ``token``."""
    api = Api(agent, token, audit)
    return Starlette(routes=api.routes(), exception_handlers={HTTPException: _http_error})

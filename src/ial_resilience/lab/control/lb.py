"""The lab's load balancer: round-robin over healthy targets, active health checks.

A target is a replica reached through its ``lb->api-N`` agent link (so a fault on that link is
seen by the LB exactly like a network problem). States follow an ALB target group:
``initial`` → ``healthy`` after ``healthy_threshold`` passing checks; ``healthy`` →
``unhealthy`` after ``unhealthy_threshold`` failing checks (the target leaves the rotation:
deregistered from traffic) and back after ``healthy_threshold`` passes. Only ``healthy``
targets get requests. A request that got nothing back from its target (connection refused or
reset before any response byte: nginx ``proxy_next_upstream error``) is tried once more on
another healthy target — idempotent methods always, POST only when the connection failed
before the request was sent — and the failing target leaves the rotation at once (a passive
health check), so traffic shifts before the next active check.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response

from ial_resilience.observability.instrument import AsyncTracingTransport

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
     "transfer-encoding", "upgrade", "host", "content-length"}
)  # fmt: skip


# Errors raised before any response byte arrived. A connect failure means nothing was sent,
# so any request may go to another target; the others mean the request may have been sent
# (the agent link accepts, then resets when the replica is gone), so only idempotent ones are.
CONNECT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout)
RETRY_ERRORS = (*CONNECT_ERRORS, httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


def _retryable(method: str, error: httpx.HTTPError) -> bool:
    return method.upper() in IDEMPOTENT or isinstance(error, CONNECT_ERRORS)


def _error(code: int, message: str) -> Response:
    return Response(json.dumps({"error": message}), code, media_type="application/json")


class TargetState(StrEnum):
    INITIAL = "initial"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


@dataclass(frozen=True)
class HealthCheck:
    path: str = "/health"
    interval: float = 0.25
    timeout: float = 0.5
    healthy_threshold: int = 2
    unhealthy_threshold: int = 2


@dataclass
class Target:
    name: str
    address: str
    state: TargetState = TargetState.INITIAL
    passes: int = 0
    failures: int = 0
    requests: int = 0
    registered_at: float = field(default_factory=time.time)
    last_check_error: str = ""

    def snapshot(self) -> dict[str, Any]:
        return {
            "name": self.name, "address": self.address, "state": str(self.state),
            "requests": self.requests, "registered_at": self.registered_at,
            "last_check_error": self.last_check_error,
        }  # fmt: skip


class LoadBalancer:
    """Targets, the round-robin choice, the health checker and the proxy endpoint."""

    def __init__(self, check: HealthCheck | None = None, *, traced: bool = False) -> None:
        self.check = check or HealthCheck()
        self.traced = traced
        self._targets: dict[str, Target] = {}
        self._turn = itertools.count()
        self.events: deque[dict[str, Any]] = deque(maxlen=500)
        self.requests_total = 0
        self.responses: dict[str, int] = {}
        self.in_flight = 0
        self.passive_marks = 0
        self._arrivals: deque[float] = deque(maxlen=100_000)
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        # traced: every forwarded request is a CLIENT span carrying the trace to the replica
        transport: httpx.AsyncBaseTransport = httpx.AsyncHTTPTransport(limits=limits)
        if traced:
            transport = AsyncTracingTransport(transport)
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(10.0, connect=1.0), transport=transport
        )
        self._checker = httpx.AsyncClient(timeout=self.check.timeout)

    # registration --------------------------------------------------------------------------
    def register(self, name: str, address: str) -> Target:
        target = Target(name, address)
        self._targets[name] = target
        self._event("registered", name, address=address)
        return target

    def deregister(self, name: str) -> bool:
        target = self._targets.pop(name, None)
        if target is not None:
            self._event("deregistered", name, reason="removed")
        return target is not None

    def targets(self) -> list[dict[str, Any]]:
        return [t.snapshot() for t in self._targets.values()]

    def state_counts(self) -> dict[TargetState, int]:
        """How many registered targets are in each state (every state present, 0 included)."""
        counts = dict.fromkeys(TargetState, 0)
        for target in self._targets.values():
            counts[target.state] += 1
        return counts

    def healthy(self) -> list[Target]:
        return [t for t in self._targets.values() if t.state is TargetState.HEALTHY]

    def _event(self, kind: str, name: str, **details: Any) -> None:
        self.events.append({"event": kind, "target": name, "at": time.time(), **details})

    def request_rate(self, window: float) -> float:
        """Requests per second over the last ``window`` seconds."""
        since = time.monotonic() - window
        return sum(1 for t in self._arrivals if t >= since) / window

    # health checks -------------------------------------------------------------------------
    async def health_loop(self) -> None:
        while True:
            targets = list(self._targets.values())
            await asyncio.gather(*(self._check_one(t) for t in targets))
            await asyncio.sleep(self.check.interval)

    async def _check_one(self, target: Target) -> None:
        try:
            response = await self._checker.get(f"http://{target.address}{self.check.path}")
            ok, error = response.status_code == 200, f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            ok, error = False, type(exc).__name__
        self._record_check(target, ok, "" if ok else error)

    def _record_check(self, target: Target, ok: bool, error: str) -> None:
        target.last_check_error = error
        if ok:
            target.passes, target.failures = target.passes + 1, 0
            if (
                target.state is not TargetState.HEALTHY
                and target.passes >= self.check.healthy_threshold
            ):
                target.state = TargetState.HEALTHY
                self._event("healthy", target.name)
            return
        target.failures, target.passes = target.failures + 1, 0
        if target.state is not TargetState.UNHEALTHY and (
            target.failures >= self.check.unhealthy_threshold
        ):
            was_healthy = target.state is TargetState.HEALTHY
            target.state = TargetState.UNHEALTHY
            if was_healthy:
                self._event("deregistered", target.name, reason=f"health check failed: {error}")

    # proxy ---------------------------------------------------------------------------------
    def _pick(self, exclude: set[str] | frozenset[str] = frozenset()) -> Target | None:
        healthy = [t for t in self.healthy() if t.name not in exclude]
        if not healthy:
            return None
        return healthy[next(self._turn) % len(healthy)]

    async def proxy(self, request: Request) -> Response:
        self.requests_total += 1
        self._arrivals.append(time.monotonic())
        self.in_flight += 1
        try:
            response = await self._forward(request)
        finally:
            self.in_flight -= 1
        bucket = f"{response.status_code // 100}xx"
        self.responses[bucket] = self.responses.get(bucket, 0) + 1
        return response

    async def _forward(self, request: Request) -> Response:
        received = time.time()
        body = await request.body()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        headers.setdefault("x-request-start", f"t={int(received * 1000)}")
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        tried: set[str] = set()
        last_error = "no healthy target"
        for _attempt in range(2):
            target = self._pick(exclude=tried)
            if target is None:
                break
            tried.add(target.name)
            target.requests += 1
            outgoing = self._http.build_request(
                request.method, f"http://{target.address}{path}", headers=headers, content=body
            )
            try:
                upstream = await self._http.send(outgoing, stream=True)
            except httpx.HTTPError as error:
                last_error = f"target {target.name}: {type(error).__name__}"
                if not self._nothing_received(error):
                    return _error(502, last_error)
                self._mark_failed(target, type(error).__name__)
                if not _retryable(request.method, error):
                    return _error(502, last_error)
                continue  # nothing came back from this target: the next one may answer
            return await self._relay(target, upstream)
        code = 503 if not tried else 502
        return _error(code, last_error)

    @staticmethod
    def _nothing_received(error: httpx.HTTPError) -> bool:
        """True for errors before any response byte (nginx ``proxy_next_upstream error``)."""
        return isinstance(error, RETRY_ERRORS)

    def _mark_failed(self, target: Target, error: str) -> None:
        """Passive health check: a target that failed a request leaves the rotation now.

        It comes back like any unhealthy target: after ``healthy_threshold`` passing checks.
        """
        target.last_check_error = f"request failed: {error}"
        target.passes = 0
        target.failures = max(target.failures, self.check.unhealthy_threshold)
        if target.state is not TargetState.UNHEALTHY:
            was_healthy = target.state is TargetState.HEALTHY
            target.state = TargetState.UNHEALTHY
            self.passive_marks += 1
            if was_healthy:
                self._event("deregistered", target.name, reason=f"request failed: {error}")

    async def _relay(self, target: Target, upstream: httpx.Response) -> Response:
        try:
            content = await upstream.aread()
        except httpx.HTTPError as error:  # the answer had started: never replayed
            return _error(502, f"target {target.name}: {type(error).__name__}")
        finally:
            await upstream.aclose()
        out = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
        out.pop("content-encoding", None)
        return Response(content, upstream.status_code, headers=out)

    async def close(self) -> None:
        await self._http.aclose()
        await self._checker.aclose()

    def metrics(self) -> str:
        lines = [
            "# TYPE lab_lb_requests_total counter",
            f"lab_lb_requests_total {self.requests_total}",
            "# TYPE lab_lb_in_flight gauge",
            f"lab_lb_in_flight {self.in_flight}",
            "# TYPE lab_lb_responses_total counter",
            *(f'lab_lb_responses_total{{class="{k}"}} {v}'
              for k, v in sorted(self.responses.items())),
            "# TYPE lab_lb_passive_marks_total counter",
            f"lab_lb_passive_marks_total {self.passive_marks}",
            "# TYPE lab_lb_targets gauge",
            *(
                f'lab_lb_targets{{state="{state}"}} '
                f"{sum(1 for t in self._targets.values() if t.state is state)}"
                for state in TargetState
            ),
            "# TYPE lab_lb_target_requests_total counter",
            *(f'lab_lb_target_requests_total{{target="{t.name}"}} {t.requests}'
              for t in self._targets.values()),
        ]  # fmt: skip
        return "\n".join(lines) + "\n"

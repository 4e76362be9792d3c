"""An API replica of the lab (an ECS task): orders in PostgreSQL, payments with a breaker.

- ``POST /orders`` ``{"item": str, "amount": number}`` → 201 ``{"id", "status"}``: the order is
  written, then payments is charged: each attempt bounded by 250 ms, at most one retry after a
  jittered 20–80 ms backoff (tenacity) and only within the call's 600 ms deadline, inside a
  pybreaker circuit breaker (opens after 3 consecutive failures, one trial call after 2 s).
  When payments fails or the breaker is open the order is kept as
  ``payment_pending`` and the request still succeeds (graceful degradation).
- ``GET /orders`` (latest 20), ``GET /orders/{id}``, ``DELETE /orders/{id}``.
- ``GET /health`` (shallow: this process serves), ``GET /metrics`` (Prometheus):
  ``lab_api_requests_total{route,code}``, ``lab_api_payments_total{outcome}``
  (``charged|failed|breaker_open``), ``lab_api_breaker_state`` (0 closed, 1 half-open, 2 open),
  ``lab_api_orders_total{status}``.
- Telemetry (``lab.telemetry``, when ``IALR_TELEMETRY_STORE`` is set): a SERVER span per request
  (context from the LB), psycopg and payments CLIENT spans; ``http.requests`` {service=api,
  replica, route, outcome}, ``http.latency_ms`` and ``payments.charges`` {service=api, outcome}
  into the lab's store.

The database DSN comes from ``--dsn`` (the ``api->db`` link), payments from ``--payments``
(the ``api->payments`` link). A database error answers 503, never a crash.
"""

from __future__ import annotations

import argparse
import os
import select
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any

import httpx
import psycopg
import pybreaker
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)
from psycopg_pool import ConnectionPool, PoolTimeout
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random,
)
from tenacity.stop import stop_base

from ial_resilience.lab import telemetry as lab_telemetry
from ial_resilience.lab._serve import serve
from ial_resilience.lab.versions import VersionKnobs
from ial_resilience.observability import metrics as telemetry_metrics
from ial_resilience.observability.instrument import TracedCursor, TracingTransport

SCHEMA = """
SELECT pg_advisory_xact_lock(7311);
CREATE TABLE IF NOT EXISTS orders (
    id bigserial PRIMARY KEY,
    item text NOT NULL,
    amount numeric NOT NULL,
    status text NOT NULL,
    replica text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""
# Payments resilience, tuned as a team would (see chaos/README.md "Known findings"): every
# attempt is bounded well below the users' budget, one retry with jittered backoff only if the
# call's overall deadline leaves room for a whole attempt, and a breaker that opens after a few
# consecutive failures and probes with one trial call (half-open) after BREAKER_RESET_S.
PAYMENT_ATTEMPT_TIMEOUT_S = 0.25
PAYMENT_DEADLINE_S = 0.6
PAYMENT_BACKOFF_S = (0.02, 0.08)
BREAKER_FAIL_MAX = 3
BREAKER_RESET_S = 2.0
MAX_CONNECTIONS = 10
# Load shedding: a request that waited longer than this (since the LB received it) before a
# worker took it is answered 503 at once. Its user has most likely given up (the game day's
# users wait 2 s); doing its work anyway is what keeps an overloaded replica overloaded after
# the overload is gone (a metastable failure).
SHED_AFTER_S = 1.0
STATES = {"closed": 0, "half-open": 1, "open": 2}


class PaymentFailed(Exception):
    """payments answered 5xx or not at all."""


class DeadlineTooClose(stop_base):
    """Stop retrying when less than half an attempt's timeout is left before the deadline."""

    def __init__(self, deadline: float) -> None:
        self._deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        left = self._deadline - time.monotonic() - PAYMENT_BACKOFF_S[1]
        return left < PAYMENT_ATTEMPT_TIMEOUT_S / 2


def queued_since(request: Request) -> float:
    """When the request entered the system: the LB's ``X-Request-Start: t=<unix ms>`` (the
    nginx/Heroku convention), else now."""
    raw = request.headers.get("x-request-start", "").removeprefix("t=")
    try:
        return float(raw) / 1000.0
    except ValueError:
        return time.time()


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "lab_api_requests", "requests served", ["route", "code"], registry=self.registry
        )
        self.payments = Counter(
            "lab_api_payments", "payment outcomes", ["outcome"], registry=self.registry
        )
        self.orders = Counter(
            "lab_api_orders", "orders by status", ["status"], registry=self.registry
        )
        self.shed = Counter(
            "lab_api_shed", "requests shed after queueing too long", registry=self.registry
        )
        self.breaker = Gauge(
            "lab_api_breaker_state", "0 closed, 1 half-open, 2 open", registry=self.registry
        )


class Payments:
    """payments through the ``api->payments`` link: bounded attempts, one retry, a breaker."""

    def __init__(self, url: str, metrics: Metrics, *, traced: bool = False) -> None:
        transport = TracingTransport() if traced else None  # carries the trace to payments
        self._http = httpx.Client(
            base_url=url, timeout=PAYMENT_ATTEMPT_TIMEOUT_S, transport=transport
        )
        self._metrics = metrics
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=BREAKER_FAIL_MAX, reset_timeout=BREAKER_RESET_S, name="payments"
        )

    def _charge_once(self, order_id: int, amount: float) -> None:
        """At most two attempts, all within PAYMENT_DEADLINE_S; raises PaymentFailed."""
        deadline = time.monotonic() + PAYMENT_DEADLINE_S
        retrying = Retrying(
            stop=stop_after_attempt(2) | DeadlineTooClose(deadline),
            wait=wait_random(*PAYMENT_BACKOFF_S),
            retry=retry_if_exception_type(PaymentFailed),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                self._attempt(order_id, amount, deadline - time.monotonic())

    def _attempt(self, order_id: int, amount: float, remaining: float) -> None:
        timeout = max(0.01, min(PAYMENT_ATTEMPT_TIMEOUT_S, remaining))
        try:
            response = self._http.post(
                "/charge", json={"order": order_id, "amount": amount}, timeout=timeout
            )
        except httpx.HTTPError as error:
            raise PaymentFailed(f"{type(error).__name__}: {error}") from error
        if response.status_code >= 500:
            raise PaymentFailed(f"HTTP {response.status_code}")

    def charge(self, order_id: int, amount: float) -> str:
        """``charged``, ``failed`` or ``breaker_open`` (never raises)."""
        try:
            self.breaker.call(self._charge_once, order_id, amount)
            outcome = "charged"
        except pybreaker.CircuitBreakerError:
            outcome = "breaker_open"
        except PaymentFailed:
            outcome = "failed"
        self._metrics.payments.labels(outcome).inc()
        telemetry_metrics.count("payments.charges", 1.0, service="api", outcome=outcome)
        return outcome

    def state(self) -> str:
        return str(self.breaker.current_state).replace("_", "-")


def usable(conn: psycopg.Connection[Any]) -> bool:
    """Whether a connection just taken from the pool can serve, free when it plainly can.

    An idle connection has nothing to read; one the server or the ``api->db`` link closed
    (failover, connection drop) has an EOF/RST waiting. Only then is it verified with a round
    trip (psycopg's ``check_connection``).
    """
    if conn.closed or conn.broken:
        return False
    readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    if not readable:
        return True
    try:
        ConnectionPool.check_connection(conn)
    except psycopg.Error:
        return False
    return True


class Orders:
    """Orders in PostgreSQL through a psycopg pool."""

    def __init__(self, dsn: str, *, traced: bool = False) -> None:
        # Connections are verified on checkout (``_connection``), so after a failover (the
        # api->db link repointed, old connections reset) no request gets a dead one. (Not the
        # pool's ``check=``: it sleeps a ~1 s backoff after each failed check.)
        self._pool = ConnectionPool(
            dsn, min_size=2, max_size=MAX_CONNECTIONS, timeout=1.5, open=False,
            reconnect_timeout=30.0,
            kwargs={"connect_timeout": 2, "autocommit": True,
                    **({"cursor_factory": TracedCursor} if traced else {})},
        )  # fmt: skip
        self._pool.open(wait=False)
        self._schema_ready = False
        self._lock = threading.Lock()

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection that passed ``usable``; dead ones are closed (the pool replaces
        them) and the next one is taken, without waiting."""
        conn = self._pool.getconn()
        for _ in range(MAX_CONNECTIONS):
            if usable(conn):
                break
            conn.close()
            self._pool.putconn(conn)
            conn = self._pool.getconn()
        try:
            yield conn
        finally:
            self._pool.putconn(conn)

    def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        with self._lock, self._connection() as conn, conn.transaction():
            conn.execute(SCHEMA)
        self._schema_ready = True

    def run(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        self._ensure_schema()
        with self._connection() as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def close(self) -> None:
        self._pool.close()


def _order(row: tuple[Any, ...]) -> dict[str, Any]:
    return {"id": row[0], "item": row[1], "amount": float(row[2]), "status": row[3],
            "replica": row[4]}  # fmt: skip


def build_app(name: str, orders: Orders, payments: Payments, metrics: Metrics) -> Starlette:
    columns = "id, item, amount, status, replica"

    def answer(route: str, body: Any, code: int = 200) -> JSONResponse:
        metrics.requests.labels(route, str(code)).inc()
        return JSONResponse(body, status_code=code)

    async def guarded(route: str, work: Any, request: Request) -> JSONResponse:
        since = queued_since(request)

        def shed_or_work() -> tuple[Any, int]:
            waited = time.time() - since
            if waited > SHED_AFTER_S:
                metrics.shed.inc()
                return {"error": f"overloaded: queued {waited:.2f}s, shed (retry later)"}, 503
            return work()  # type: ignore[no-any-return]

        try:
            body, code = await run_in_threadpool(shed_or_work)
        except (psycopg.Error, PoolTimeout) as error:
            return answer(route, {"error": f"database unavailable: {error}"[:300]}, 503)
        return answer(route, body, code)

    async def create(request: Request) -> JSONResponse:
        try:
            raw = await request.json()
        except ValueError:
            raw = None
        if not isinstance(raw, dict) or not isinstance(raw.get("item", "x"), str):
            return answer("orders", {"error": 'give {"item": "…", "amount": 1.5}'}, 422)
        item, amount = str(raw.get("item", "widget")), float(raw.get("amount", 1.0))

        def work() -> tuple[Any, int]:
            rows = orders.run(
                "INSERT INTO orders (item, amount, status, replica) VALUES (%s, %s, 'new', %s)"
                " RETURNING id",
                (item, amount, name),
            )
            order_id = int(rows[0][0])
            outcome = payments.charge(order_id, amount)
            status = "paid" if outcome == "charged" else "payment_pending"
            orders.run("UPDATE orders SET status = %s WHERE id = %s", (status, order_id))
            metrics.orders.labels(status).inc()
            return {"id": order_id, "status": status, "payment": outcome, "replica": name}, 201

        return await guarded("orders", work, request)

    async def listing(request: Request) -> JSONResponse:
        def work() -> tuple[Any, int]:
            rows = orders.run(f"SELECT {columns} FROM orders ORDER BY id DESC LIMIT 20")
            return {"orders": [_order(r) for r in rows], "replica": name}, 200

        return await guarded("orders", work, request)

    async def one(request: Request) -> JSONResponse:
        order_id = int(request.path_params["order_id"])

        def work() -> tuple[Any, int]:
            rows = orders.run(f"SELECT {columns} FROM orders WHERE id = %s", (order_id,))
            return (_order(rows[0]), 200) if rows else ({"error": "no such order"}, 404)

        return await guarded("order", work, request)

    async def delete(request: Request) -> JSONResponse:
        order_id = int(request.path_params["order_id"])

        def work() -> tuple[Any, int]:
            rows = orders.run("DELETE FROM orders WHERE id = %s RETURNING id", (order_id,))
            return ({"deleted": order_id}, 200) if rows else ({"error": "no such order"}, 404)

        return await guarded("order", work, request)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True, "replica": name, "pid": os.getpid()})

    async def prometheus(request: Request) -> Response:
        metrics.breaker.set(STATES.get(payments.state(), 0))
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/orders", create, methods=["POST"]),
            Route("/orders", listing, methods=["GET"]),
            Route("/orders/{order_id:int}", one, methods=["GET"]),
            Route("/orders/{order_id:int}", delete, methods=["DELETE"]),
            Route("/health", health),
            Route("/metrics", prometheus),
        ],
        lifespan=_closing(orders),
    )


def _closing(orders: Orders) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(orders.close)

    return lifespan


def main() -> None:
    parser = argparse.ArgumentParser(prog="ial_resilience.lab.api")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--payments", required=True, help="base URL of payments")
    parser.add_argument("--name", default=os.environ.get("IALR_REPLICA", "api"))
    args = parser.parse_args()
    telemetry = lab_telemetry.setup("api", with_metrics=True)
    metrics = Metrics()
    orders = Orders(args.dsn, traced=telemetry.traced)
    payments = Payments(args.payments, metrics, traced=telemetry.traced)
    app = build_app(args.name, orders, payments, metrics)
    app.add_middleware(VersionKnobs)  # inside the request metrics: its 500s are counted
    lab_telemetry.instrument(app, telemetry, "api", args.name)
    try:
        serve(app, args.port)
    finally:
        telemetry.close()


if __name__ == "__main__":
    main()

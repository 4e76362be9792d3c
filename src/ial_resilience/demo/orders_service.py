"""The demo's "orders" service: Starlette on uvicorn, PostgreSQL through an agent link.

``GET /orders`` reads the latest orders, ``POST /orders`` writes one, ``GET /health`` answers
without touching the database. Run: ``python -m ial_resilience.demo.orders_service --port N
--dsn postgresql://…``.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import uvicorn
from psycopg_pool import ConnectionPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SCHEMA = """CREATE TABLE IF NOT EXISTS orders (
    id bigserial PRIMARY KEY, item text NOT NULL, quantity int NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now())"""


def create_app(dsn: str) -> Starlette:
    # autocommit: one round trip per request (no COMMIT after every read)
    pool = ConnectionPool(
        dsn, min_size=2, max_size=8, open=False, timeout=5.0, kwargs={"autocommit": True}
    )

    def list_orders(request: Request) -> JSONResponse:
        try:
            with pool.connection() as conn:
                rows = conn.execute(
                    "SELECT id, item, quantity FROM orders ORDER BY id DESC LIMIT 20"
                ).fetchall()
        except psycopg.Error as error:
            return JSONResponse({"error": str(error)}, status_code=503)
        return JSONResponse([{"id": r[0], "item": r[1], "quantity": r[2]} for r in rows])

    async def create_order(request: Request) -> JSONResponse:
        body: dict[str, Any] = await request.json()
        item, quantity = str(body.get("item", "widget")), int(body.get("quantity", 1))
        try:
            with pool.connection() as conn:
                row = conn.execute(
                    "INSERT INTO orders (item, quantity) VALUES (%s, %s) RETURNING id",
                    (item, quantity),
                ).fetchone()
        except psycopg.Error as error:
            return JSONResponse({"error": str(error)}, status_code=503)
        return JSONResponse({"id": row[0] if row else None}, status_code=201)

    def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool.open(wait=True, timeout=10.0)
        with pool.connection() as conn:
            conn.execute(SCHEMA)
        try:
            yield
        finally:
            pool.close()

    return Starlette(
        routes=[
            Route("/orders", list_orders, methods=["GET"]),
            Route("/orders", create_order, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="demo orders service")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dsn", required=True)
    args = parser.parse_args(argv)
    uvicorn.run(create_app(args.dsn), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()

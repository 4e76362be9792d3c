"""The LB retries a request that got nothing back, on another target (real sockets, loopback).

nginx ``proxy_next_upstream error`` semantics: a refused connection (nothing sent) is retried
for any method; a connection reset before any response byte (the agent link of a dead replica
accepts, then resets) is retried for idempotent methods only. Either way the failing target
leaves the rotation at once (passive health check).
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from ial_resilience.lab.control.lb import HealthCheck, LoadBalancer, TargetState

pytestmark = pytest.mark.timeout(30)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def answer_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n")
         if line.lower().startswith(b"content-length:")), 0,
    )  # fmt: skip
    await reader.readexactly(length)
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
    await writer.drain()
    writer.close()


async def reset_after_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()  # RST, no response byte: a dead replica behind the agent link


async def serve(handler: Handler) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"127.0.0.1:{port}"


def refused_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"  # closed again: nothing listens


async def through_lb(bad: str, method: str) -> tuple[int, LoadBalancer]:
    good_server, good = await serve(answer_ok)
    lb = LoadBalancer(HealthCheck(healthy_threshold=1))
    for name, address in (("bad", bad), ("good", good)):
        lb._record_check(lb.register(name, address), True, "")
    app = Starlette(routes=[Route("/orders", lb.proxy, methods=["GET", "POST"])])
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://lb") as client:
            response = await client.request(method, "/orders", json={"item": "x"})
    finally:
        await lb.close()
        good_server.close()
    return response.status_code, lb


def run(bad_handler: Handler | None, method: str) -> tuple[int, LoadBalancer]:
    async def scenario() -> tuple[int, LoadBalancer]:
        if bad_handler is None:
            return await through_lb(refused_address(), method)
        bad_server, bad = await serve(bad_handler)
        try:
            return await through_lb(bad, method)
        finally:
            bad_server.close()

    return asyncio.run(scenario())


def states(lb: LoadBalancer) -> dict[str, str]:
    return {str(t["name"]): str(t["state"]) for t in lb.targets()}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_refused_connection_is_retried_on_the_next_target(method: str) -> None:
    code, lb = run(None, method)
    assert code == 200
    assert states(lb) == {"bad": "unhealthy", "good": "healthy"}
    assert "lab_lb_passive_marks_total 1" in lb.metrics()
    assert [e["event"] for e in lb.events][-1] == "deregistered"


def test_a_reset_before_any_response_byte_is_retried_for_get() -> None:
    code, lb = run(reset_after_request, "GET")
    assert code == 200
    assert states(lb)["bad"] == str(TargetState.UNHEALTHY)


def test_a_post_that_may_have_been_sent_is_not_replayed() -> None:
    code, lb = run(reset_after_request, "POST")
    assert code == 502
    assert states(lb)["bad"] == str(TargetState.UNHEALTHY)  # still leaves the rotation


def test_a_failed_target_comes_back_after_passing_checks() -> None:
    _, lb = run(None, "GET")
    bad = next(t for t in lb._targets.values() if t.name == "bad")
    lb._record_check(bad, True, "")
    assert bad.state is TargetState.HEALTHY  # healthy_threshold=1 in this LB

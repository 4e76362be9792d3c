"""The payments service's behaviour knobs (ASGI in process, no sockets)."""

from __future__ import annotations

import asyncio

import httpx

from ial_resilience.lab.payments import Behaviour, build_app


async def _exercise(behaviour: Behaviour) -> None:
    transport = httpx.ASGITransport(app=build_app(behaviour))
    async with httpx.AsyncClient(transport=transport, base_url="http://payments") as client:
        assert (await client.post("/charge")).status_code == 200
        assert (await client.post("/control", json={"error_rate": 1.0})).status_code == 200
        assert (await client.post("/charge")).status_code == 502
        bad = await client.post("/control", json={"error_rate": 2, "speed": 1})
        assert bad.status_code == 422
        assert "unknown key 'speed'" in bad.json()["error"]
        assert behaviour.error_rate == 1.0  # nothing applied from a bad request
        state = (await client.get("/control")).json()
        assert state["charges"] == {"ok": 1, "failed": 1}
        assert (await client.post("/control", content=b"[")).status_code == 400


def test_control_changes_latency_and_error_rate_and_refuses_bad_values() -> None:
    asyncio.run(_exercise(Behaviour(latency_ms=0)))

"""The autoscaler's decisions and the capacity limit, with a stand-in fleet (no agent)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ial_resilience.lab.control.autoscaler import Autoscaler


class Rate:
    def __init__(self, rate: float) -> None:
        self.rate = rate

    def request_rate(self, window: float) -> float:
        return self.rate


class Fleet:
    """The supervisor's surface the autoscaler uses: replicas, lock, add, remove."""

    def __init__(self, count: int) -> None:
        self.replicas: dict[str, Any] = {}
        self.lock = asyncio.Lock()
        for _ in range(count):
            self._new()

    def _new(self) -> Any:
        index = len(self.replicas) + 1
        replica = type("R", (), {"name": f"api-{index}", "index": index})()
        self.replicas[replica.name] = replica
        return replica

    async def add(self) -> Any:
        return self._new()

    async def remove(self, name: str) -> None:
        del self.replicas[name]


def scaler(rate: float, replicas: int = 2) -> tuple[Autoscaler, Fleet]:
    fleet = Fleet(replicas)
    return Autoscaler(fleet, Rate(rate), 2, 4, target_rps=10), fleet  # type: ignore[arg-type]


def test_desired_replicas_follow_the_rate_within_min_and_max() -> None:
    assert scaler(0)[0]._wanted() == 2
    assert scaler(25)[0]._wanted() == 3
    assert scaler(1000)[0]._wanted() == 4


def test_scale_out_adds_one_replica() -> None:
    autoscaler, fleet = scaler(35)
    asyncio.run(autoscaler._tick())
    assert len(fleet.replicas) == 3 and autoscaler.events[-1]["event"] == "scale_out"


def test_a_capacity_limit_refuses_launches_and_lifts() -> None:
    autoscaler, fleet = scaler(35)
    limit = autoscaler.impose("t-1", 2, duration=60)
    asyncio.run(autoscaler._tick())
    assert len(fleet.replicas) == 2
    evidence = limit.evidence()
    assert evidence["scale_ups_refused"] == 1 and evidence["landed"] is True
    lifted = autoscaler.lift("t-1")
    assert lifted is limit and lifted.lifted_at is not None and autoscaler.limit is None
    assert autoscaler.lift("t-1") is limit  # lifting again finds it in the history


def test_a_limit_lifts_itself_at_expiry() -> None:
    autoscaler, _ = scaler(0)
    limit = autoscaler.impose("t-2", 1, duration=60)
    limit.expires_at = time.time() - 1
    asyncio.run(autoscaler._tick())
    assert autoscaler.limit is None and limit.lifted_at is not None

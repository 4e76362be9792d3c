"""The lab's autoscaler (Application Auto Scaling, target tracking on the LB request rate).

Every second: desired = ceil(rate over the last 5 s / ``target_rps``), clamped to
[min, max]. Scale-out adds one replica at a time (cooldown 2 s); scale-in removes the newest
replica after 10 s below target. A capacity limit (fault ``scaling.capacity-limit``, like
``aws:ec2:asg-insufficient-instance-capacity-error``) refuses launches above ``limit``
replicas: each refused launch is counted and recorded; running replicas are never stopped by
it. A limit carries an expiry and lifts itself then.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

from ial_resilience.errors import IalrError
from ial_resilience.lab.control.lb import LoadBalancer
from ial_resilience.lab.control.supervisor import Supervisor

log = logging.getLogger("ialr.lab.autoscaler")
WINDOW_S = 5.0
TICK_S = 1.0
SCALE_OUT_COOLDOWN_S = 2.0
SCALE_IN_COOLDOWN_S = 10.0


@dataclass
class CapacityLimit:
    id: str
    limit: int
    imposed_at: float
    expires_at: float
    refused: list[float] = field(default_factory=list)
    lifted_at: float | None = None

    def evidence(self) -> dict[str, Any]:
        return {
            "id": self.id, "limit": self.limit, "imposed_at": self.imposed_at,
            "expires_at": self.expires_at, "lifted_at": self.lifted_at,
            "scale_ups_refused": len(self.refused), "refused_at": self.refused[-20:],
            "landed": bool(self.refused),
        }  # fmt: skip


class Autoscaler:
    def __init__(
        self,
        supervisor: Supervisor,
        lb: LoadBalancer,
        minimum: int,
        maximum: int,
        target_rps: float,
    ) -> None:
        self._supervisor, self._lb = supervisor, lb
        self.minimum, self.maximum, self.target_rps = minimum, maximum, target_rps
        self.limit: CapacityLimit | None = None
        self.history: list[CapacityLimit] = []
        self.desired = minimum
        self.events: list[dict[str, Any]] = []
        self._last_out = 0.0
        self._last_above = time.monotonic()

    def impose(self, limit_id: str, limit: int, duration: float) -> CapacityLimit:
        now = time.time()
        self.lift()
        self.limit = CapacityLimit(limit_id, limit, now, now + duration)
        self.history.append(self.limit)
        return self.limit

    def lift(self, limit_id: str | None = None) -> CapacityLimit | None:
        """Lift the active limit (if ``limit_id`` is given, only when it is that one)."""
        limit = self.limit
        if limit is None or (limit_id is not None and limit.id != limit_id):
            return next((h for h in self.history if h.id == limit_id), None)
        limit.lifted_at = time.time()
        self.limit = None
        return limit

    async def run(self) -> None:
        while True:
            try:
                await self._tick()
            except IalrError as error:
                log.warning("autoscaler: %s", error)
            await asyncio.sleep(TICK_S)

    def _wanted(self) -> int:
        rate = self._lb.request_rate(WINDOW_S)
        wanted = math.ceil(rate / self.target_rps) if self.target_rps > 0 else self.minimum
        return max(self.minimum, min(self.maximum, wanted))

    async def _tick(self) -> None:
        if self.limit is not None and time.time() >= self.limit.expires_at:
            self.lift()
        self.desired = self._wanted()
        current = len(self._supervisor.replicas)
        now = time.monotonic()
        if self.desired > current:
            self._last_above = now
            if now - self._last_out >= SCALE_OUT_COOLDOWN_S:
                await self._scale_out(current)
        elif self.desired < current and now - self._last_above >= SCALE_IN_COOLDOWN_S:
            await self._scale_in()
        else:
            self._last_above = now if self.desired >= current else self._last_above

    async def _scale_out(self, current: int) -> None:
        self._last_out = time.monotonic()
        if self.limit is not None and current >= self.limit.limit:
            self.limit.refused.append(time.time())
            self._event("scale_out_refused", current, reason=f"capacity limit {self.limit.limit}")
            return
        async with self._supervisor.lock:
            replica = await self._supervisor.add()
        self._event("scale_out", current + 1, replica=replica.name)

    async def _scale_in(self) -> None:
        self._last_above = time.monotonic()
        async with self._supervisor.lock:
            newest = max(self._supervisor.replicas.values(), key=lambda r: r.index)
            await self._supervisor.remove(newest.name)
        self._event("scale_in", len(self._supervisor.replicas), replica=newest.name)

    def _event(self, kind: str, replicas: int, **details: Any) -> None:
        self.events.append({"event": kind, "replicas": replicas, "at": time.time(), **details})
        del self.events[:-200]
        log.info("%s: %d replicas %s", kind, replicas, details)

    def metrics(self) -> str:
        """Prometheus text: desired and running replicas, scale-outs refused by a limit."""
        refused = sum(len(limit.refused) for limit in self.history)
        lines = [
            "# TYPE lab_autoscaler_desired gauge", f"lab_autoscaler_desired {self.desired}",
            "# TYPE lab_autoscaler_replicas gauge",
            f"lab_autoscaler_replicas {len(self._supervisor.replicas)}",
            "# TYPE lab_autoscaler_scale_outs_refused_total counter",
            f"lab_autoscaler_scale_outs_refused_total {refused}",
        ]  # fmt: skip
        return "\n".join(lines) + "\n"

    def status(self) -> dict[str, Any]:
        return {
            "min": self.minimum, "max": self.maximum, "target_rps": self.target_rps,
            "desired": self.desired, "replicas": len(self._supervisor.replicas),
            "request_rate": round(self._lb.request_rate(WINDOW_S), 2),
            "limit": self.limit.evidence() if self.limit else None,
            "events": self.events[-50:],
        }  # fmt: skip

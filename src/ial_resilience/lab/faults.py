"""The lab's own faults for the local provider: ``db.failover``, ``lb.health-check-fail``,
``scaling.capacity-limit`` (docs/INTERFACES.md §5).

They need a running lab: :meth:`LabFaults.from_state_dir` finds its control plane in
``lab.json``. Each returns evidence that it landed:

- ``db.failover``: the control plane fences the writer, promotes the replica and repoints
  ``api->db`` → promotion LSN and time, endpoint from/to. Revert is a no-op with evidence.
- ``lb.health-check-fail``: an agent ``http_abort`` 503 on ``/health`` of the chosen
  replicas' ``lb->api-N`` links (ids ``<key>``, ``<key>-r1`` …) → landed once the LB has
  deregistered every chosen target after the fault began.
- ``scaling.capacity-limit``: the autoscaler refuses launches above ``limit`` until revert
  (or the fault's expiry, enforced by the control plane itself) → scale-ups refused.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from ial_resilience.agent.client import AgentClient
from ial_resilience.agent.state import resolve_state_dir
from ial_resilience.errors import FaultRejected, ProviderError
from ial_resilience.lab.model import read_lab_info

LAB_FAULTS = frozenset({"db.failover", "lb.health-check-fail", "scaling.capacity-limit"})
DATABASE_LINKS = {"db": "api->db"}  # `database: db` is the DB endpoint link for link faults
ONE_WAY_NOTE = (
    "failover is one-way: the promoted replica stays the writer and the old writer stays"
    " stopped until `ialr lab down` and `ialr lab up`"
)


CONTROL_TIMEOUT_S = 30.0


class LabFaults:
    """Lab faults through the control plane at ``control`` and the agent ``client``."""

    def __init__(self, control: str, client: AgentClient | None) -> None:
        self.control = control.rstrip("/")
        self._client = client
        # longer than the control plane's own worst case for a failover (fence: 2 × 2 s grace,
        # promotion retried for 15 s), so a slow promotion under load is waited for, not
        # reported as a failed fault while the control plane finishes it
        self._http = httpx.Client(base_url=self.control, timeout=CONTROL_TIMEOUT_S)
        self._failovers: dict[str, dict[str, Any]] = {}

    @classmethod
    def from_state_dir(cls, state_dir: Path | None, client: AgentClient | None) -> LabFaults | None:
        info = read_lab_info(resolve_state_dir(state_dir))
        control = info.exports.get("control") if info else None
        return cls(control, client) if control else None

    def close(self) -> None:
        self._http.close()

    # control API --------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.HTTPError as error:
            raise ProviderError(
                f"the lab's control plane does not answer at {self.control}: {error}",
                hint="is the lab running? `ialr lab status`",
            ) from error
        data = response.json() if response.content else {}
        if response.status_code >= 400:
            message = data.get("error", {}).get("message", response.text[:200])
            raise FaultRejected(f"lab control plane {method} {path}: {message}")
        return data

    # faults -------------------------------------------------------------------------------
    def health_check_requests(
        self, key: str, replicas: list[str], duration_ms: int
    ) -> list[dict[str, Any]]:
        """Agent fault requests: 503 on ``/health`` of each replica's ``lb->NAME`` link."""
        return [
            {
                "id": key if i == 0 else f"{key}-r{i}", "kind": "http_abort",
                "target": {"link": f"lb->{name}"},
                "params": {"status": 503, "percentage": 100, "path": "/health"},
                "duration_ms": duration_ms, "label": key,
            }
            for i, name in enumerate(replicas)
        ]  # fmt: skip

    def failover(self, key: str) -> dict[str, Any]:
        evidence: dict[str, Any] = self._call("POST", "/v1/db/failover")
        self._failovers[key] = evidence
        return evidence

    def failover_evidence(self, key: str, reverted: bool = False) -> dict[str, Any]:
        evidence = dict(self._failovers.get(key, {}))
        if reverted:
            evidence.update(reverted=False, note=ONE_WAY_NOTE)
        return evidence

    def impose_limit(self, key: str, limit: int, duration: float) -> dict[str, Any]:
        body = {"id": key, "limit": limit, "duration_s": duration}
        data: dict[str, Any] = self._call("POST", "/v1/autoscaler/limit", body)
        return data

    def limit_evidence(self, key: str) -> dict[str, Any]:
        status = self._call("GET", "/v1/autoscaler")
        limit = status.get("limit") or {}
        if limit.get("id") == key:
            return {**limit, "replicas": status.get("replicas"), "desired": status.get("desired")}
        return {"id": key, "active": False, "replicas": status.get("replicas")}

    def lift_limit(self, key: str) -> dict[str, Any]:
        try:
            data: dict[str, Any] = self._call("DELETE", f"/v1/autoscaler/limit/{key}")
        except FaultRejected:
            return {"id": key, "already_lifted": True, "landed": False}
        return data

    def deregistrations(self, replicas: list[str], since: float) -> dict[str, Any]:
        """Which of ``replicas`` the LB took out of rotation after ``since`` (unix s)."""
        data = self._call("GET", "/v1/lb/targets")
        events = [
            e for e in data.get("events", [])
            if e.get("event") == "deregistered" and e.get("target") in replicas
            and float(e.get("at", 0)) >= since
        ]  # fmt: skip
        seen = sorted({str(e["target"]) for e in events})
        states = {t["name"]: t["state"] for t in data.get("targets", [])}
        first = min((float(e["at"]) for e in events), default=None)
        return {
            "targets": replicas, "deregistered": seen,
            "target_states": {name: states.get(name, "absent") for name in replicas},
            "seconds_to_deregister": round(first - since, 3) if first is not None else None,
            "landed": bool(replicas) and set(seen) == set(replicas),
        }  # fmt: skip

    @staticmethod
    def now() -> float:
        return time.time()

"""The local provider: the fault vocabulary carried out by the agent (docs/INTERFACES.md §2).

Mapping (agent fault kinds): ``network.latency`` → ``latency``; ``network.loss`` → ``loss``;
``network.partition`` → ``timeout`` with ``timeout_ms: 0`` in both directions;
``network.bandwidth|reset|slow-close|slicer|slow-open|timeout|down`` → the toxic of the same
name; ``dependency.outage`` → ``down`` on the dependency's link; ``db.connection-drop`` →
reset every open connection of the link, plus a ``reset`` toxic for the duration;
``http.abort|delay`` → ``http_abort|http_delay``; ``process.*`` → ``kill|pause|restart`` on
the process (on a service: on as many of its replicas as the target touches);
``resource.*`` → ``cpu|memory|disk`` on the host. The lab's faults ``lb.health-check-fail``,
``scaling.capacity-limit`` and ``db.failover`` are supported only while a lab runs for the
state dir (:mod:`ial_resilience.lab.faults`); without one, validation names the fault and the
provider. With a lab, a ``database: db`` target means the DB endpoint link ``api->db``.

Agent fault ids derive from the planned fault's key (``<key>``, ``<key>-r1``…), so the ledger
names them before they exist and ``ialr chaos cleanup`` finds them even after a crash.

The provider notes the agent's process when it connects (:mod:`.agent_process`):
:meth:`LocalProvider.check_alive` tells the engine when it died, and a call that finds nobody
answering because the agent died raises :class:`~.agent_process.AgentDied`.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ial_resilience.agent.client import AgentClient
from ial_resilience.agent.state import START_HINT, resolve_state_dir
from ial_resilience.engine.ledger import PendingFault
from ial_resilience.engine.model import AppliedFault, Evidence, PlannedFault, ResolvedTarget
from ial_resilience.engine.provider import CleanupResult
from ial_resilience.engine.providers.agent_process import AgentDied, AgentProcess
from ial_resilience.errors import AgentUnreachable, InputError, ProviderError
from ial_resilience.faults.vocabulary import FAULTS
from ial_resilience.lab.faults import DATABASE_LINKS, LAB_FAULTS, LabFaults

NOT_SUPPORTED = LAB_FAULTS  # without a running lab
PROBE_KINDS = frozenset({"http", "tcp", "sql", "process", "metric", "command"})
_LINK_KINDS = frozenset({"link", "database"})
_AGENT_KIND_OVERRIDES = {"network.partition": "timeout", "db.connection-drop": "reset"}


def _owns(key: str, fault_id: str) -> bool:
    return fault_id == key or fault_id.startswith(key + "-")


class LocalProvider:
    """Faults through a running agent (``AgentClient``)."""

    name = "local"

    def __init__(
        self,
        client: AgentClient | None,
        lab: LabFaults | None = None,
        agent: AgentProcess | None = None,
    ) -> None:
        self._client = client
        self._lab = lab
        self._agent = agent  # None: the agent's process is unknown, its death goes unnoticed
        self._processes: list[dict[str, Any]] | None = None
        self._targets: dict[str, Any] = {}
        self._reset_counts: dict[str, int] = {}
        self._offline_reason: AgentUnreachable | None = None

    @classmethod
    def from_state_dir(cls, state_dir: Path | None, *, offline: bool = False) -> LocalProvider:
        """A provider on the agent of ``state_dir``; ``offline`` (dry runs) when none runs."""
        try:
            client = AgentClient.from_state_dir(state_dir)
            agent = AgentProcess.of(resolve_state_dir(state_dir))
            return cls(client, LabFaults.from_state_dir(state_dir, client), agent)
        except AgentUnreachable as error:
            if offline:
                provider = cls(None)
                provider._offline_reason = error
                return provider
            raise

    @property
    def client(self) -> AgentClient:
        if self._client is None:
            raise AgentUnreachable("no agent is running (see `ialr agent run`)", hint=START_HINT)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._lab is not None:
            self._lab.close()

    # -- what it can do ------------------------------------------------------------------
    def supported_faults(self) -> frozenset[str]:
        return frozenset(FAULTS) - (NOT_SUPPORTED if self._lab is None else frozenset())

    def supported_probes(self) -> frozenset[str]:
        return PROBE_KINDS

    def resolve_targets(self, experiment: Any) -> Mapping[str, ResolvedTarget]:
        """Targets from the experiment alone; services count their replicas on the agent."""
        self._targets = dict(experiment.targets)
        resolved: dict[str, ResolvedTarget] = {}
        for name, target in experiment.targets.items():
            kind = target.kind.value
            if kind == "service" and self._client is None:
                detail = f"service {target.name} (replicas unknown: no agent running)"
                resolved[name] = ResolvedTarget(name, kind, detail)
            elif kind == "service":
                replicas = len(self._replicas(target.name))
                touched = self._touched(target, replicas)
                detail = f"service {target.name} ({touched} of {replicas} replicas)"
                resolved[name] = ResolvedTarget(name, kind, detail, replicas or None, touched)
            else:
                resolved[name] = ResolvedTarget(name, kind, f"{kind} {target.name}")
        return resolved

    @staticmethod
    def _touched(target: Any, replicas: int) -> int:
        if target.replicas is not None:
            count: int = target.replicas
            return count
        if target.share is not None:
            share: float = target.share
            return max(1, math.floor(share * replicas))
        return 1

    def _replicas(self, service: str) -> list[dict[str, Any]]:
        if self._processes is None:
            self._processes = self.client.processes()
        return sorted(
            (
                p
                for p in self._processes
                if p["name"] == service or p["name"].startswith(service + "-")
            ),
            key=lambda p: str(p["name"]),
        )

    def check_alive(self) -> None:
        """:class:`AgentDied` when the agent's process is gone (cheap: no request is sent)."""
        if self._agent is not None and not self._agent.running():
            raise self._agent.died()

    @contextlib.contextmanager
    def _agent_calls(self) -> Iterator[None]:
        """Nobody answers because the agent's process is gone → :class:`AgentDied`."""
        try:
            yield
        except AgentDied:
            raise
        except AgentUnreachable as error:
            if self._agent is not None and self._agent.gone():
                raise self._agent.died() from error
            raise

    def check_ready(self) -> None:
        """The agent answers, accepts the token, and knows every link and process targeted."""
        with self._agent_calls():
            self.client.health()
            status = self.client.status()
        links = {str(link.get("name")) for link in status["links"]}
        processes = {str(p.get("name")) for p in status["processes"]}
        for name, target in self._targets.items():
            kind = target.kind.value
            if kind == "database" and self._lab is not None:
                continue  # the lab's DB endpoint (failover) or its link (see _link_name)
            if kind in _LINK_KINDS and target.name not in links:
                raise InputError(
                    f"target {name!r}: the agent at {self.client.url} has no link "
                    f"{target.name!r} (it has: {', '.join(sorted(links)) or 'none'})",
                    hint="declare the link in the system file or create it with the agent API",
                )
            if kind == "process" and target.name not in processes:
                raise InputError(
                    f"target {name!r}: the agent knows no process {target.name!r}",
                    hint="register it in the system file or with POST /v1/processes",
                )

    # -- faults --------------------------------------------------------------------------
    def requests(self, planned: PlannedFault) -> list[dict[str, Any]]:
        """The agent fault requests that carry ``planned`` out (ids derived from its key)."""
        target = self._targets[planned.target]
        if planned.fault == "lb.health-check-fail":
            return self._health_check_requests(target, planned)
        if planned.fault in LAB_FAULTS:
            return []
        kind = _AGENT_KIND_OVERRIDES.get(planned.fault) or FAULTS[planned.fault].agent_kind
        if kind is None:
            raise InputError(f"{planned.fault} is not supported by the local provider")
        params = self._params(planned)
        base = {
            "kind": kind,
            "params": params,
            "direction": planned.direction,
            "toxicity": planned.toxicity,
            "duration_ms": max(1, round(planned.duration * 1000)),
            "label": planned.key,
        }
        if planned.fault == "network.partition":
            base["direction"] = "both"
        return [
            {**base, "id": planned.key if i == 0 else f"{planned.key}-r{i}", "target": t}
            for i, t in enumerate(self._agent_targets(target, planned))
        ]

    def _health_check_requests(self, target: Any, planned: PlannedFault) -> list[dict[str, Any]]:
        replicas = self._replicas(target.name)
        if not replicas:
            raise InputError(f"service {target.name!r} has no replica known to the agent")
        chosen = [str(p["name"]) for p in replicas[: self._touched(target, len(replicas))]]
        duration_ms = max(1, round(planned.duration * 1000))
        return self._lab_faults.health_check_requests(planned.key, chosen, duration_ms)

    @property
    def _lab_faults(self) -> LabFaults:
        if self._lab is None:
            raise InputError(
                "the lab's faults need a running lab for this state dir",
                hint="start it with `ialr lab up`",
            )
        return self._lab

    def _link_name(self, target: Any) -> str:
        if target.kind.value == "database" and self._lab is not None:
            return DATABASE_LINKS.get(str(target.name), str(target.name))
        return str(target.name)

    @staticmethod
    def _params(planned: PlannedFault) -> dict[str, Any]:
        if planned.fault == "network.partition":
            return {"timeout_ms": 0}
        if planned.fault == "db.connection-drop":
            return {"timeout_ms": 0}
        model = planned.params_model
        return dict(model.agent_attributes()) if model is not None else dict(planned.params)

    def _agent_targets(self, target: Any, planned: PlannedFault) -> list[dict[str, Any]]:
        kind = target.kind.value
        if kind in _LINK_KINDS:
            return [{"link": self._link_name(target)}]
        if kind == "process":
            return [{"process": target.name}]
        if kind == "host" or planned.fault.startswith("resource."):
            return [{"host": True}]
        replicas = self._replicas(target.name)
        touched = self._touched(target, len(replicas))
        if not replicas:
            raise InputError(f"service {target.name!r} has no process known to the agent")
        return [{"process": p["name"]} for p in replicas[:touched]]

    def _apply_lab(self, planned: PlannedFault) -> AppliedFault:
        """``db.failover`` / ``scaling.capacity-limit`` through the lab's control plane."""
        if planned.fault == "db.failover":
            evidence = self._lab_faults.failover(planned.key)
            expires = time.time()
        else:
            model = planned.params_model
            limit = int(getattr(model, "limit", planned.params.get("limit", 0)))
            evidence = self._lab_faults.impose_limit(planned.key, limit, planned.duration)
            expires = float(evidence.get("expires_at") or time.time() + planned.duration)
        return AppliedFault(
            planned=planned, provider=self.name, mechanism="control-plane",
            handles=(planned.key,), applied_wall=time.time(), applied_mono=time.monotonic(),
            expires_at=expires,
        )  # fmt: skip

    def apply(self, planned: PlannedFault) -> AppliedFault:
        with self._agent_calls():
            return self._apply(planned)

    def _apply(self, planned: PlannedFault) -> AppliedFault:
        if planned.fault in ("db.failover", "scaling.capacity-limit"):
            return self._apply_lab(planned)
        requests = self.requests(planned)
        reset = 0
        if planned.fault == "db.connection-drop":
            reset = self.client.reset_link(self._link_name(self._targets[planned.target]))
        faults = self.client.apply_faults(requests)
        first = faults[0]
        applied = AppliedFault(
            planned=planned,
            provider=self.name,
            mechanism=str(first.get("mechanism", "proxy")),
            handles=tuple(str(f["id"]) for f in faults),
            applied_wall=time.time(),
            applied_mono=time.monotonic(),
            expires_at=float(first.get("expires_at") or time.time() + planned.duration),
        )
        self._reset_counts[planned.key] = reset
        return applied

    def verify(self, applied: AppliedFault) -> Evidence:
        with self._agent_calls():
            lab = self._lab_evidence(applied, reverting=False)
            if lab is not None:
                return lab
            return self._evidence(applied, [self.client.fault(h) for h in applied.handles])

    def revert(self, applied: AppliedFault) -> Evidence:
        with self._agent_calls():
            lab = self._lab_evidence(applied, reverting=True)
            if lab is not None:
                return lab
            faults = [self.client.revert_fault(h) for h in applied.handles]
            return self._evidence(applied, faults)

    def _lab_evidence(self, applied: AppliedFault, *, reverting: bool) -> Evidence | None:
        """Evidence of a lab fault (and its revert); None for the agent's own faults."""
        fault, key = applied.planned.fault, applied.planned.key
        if fault == "db.failover":
            details = self._lab_faults.failover_evidence(key, reverted=reverting)
            return Evidence(bool(details.get("landed")), details)
        if fault == "scaling.capacity-limit":
            details = self._lab_faults.limit_evidence(key)
            if reverting:
                details = {**details, **self._lab_faults.lift_limit(key)}
            return Evidence(bool(details.get("scale_ups_refused")), details)
        if fault == "lb.health-check-fail":
            agent = [self.client.fault(h) for h in applied.handles]
            chosen = [str(f["target"].get("link", "")).removeprefix("lb->") for f in agent]
            lb = self._lab_faults.deregistrations(chosen, applied.applied_wall)
            if reverting:
                agent = [self.client.revert_fault(h) for h in applied.handles]
            details = {**self._evidence(applied, agent).details, "lb": lb}
            return Evidence(bool(lb["landed"]), details)
        return None

    def _evidence(self, applied: AppliedFault, faults: Sequence[dict[str, Any]]) -> Evidence:
        reports = [
            {
                "id": f["id"],
                "kind": f["kind"],
                "state": f["state"],
                "mechanism": f.get("mechanism"),
                **dict(f.get("evidence") or {}),
            }
            for f in faults
        ]
        landed_flags = [r["landed"] for r in reports if isinstance(r.get("landed"), bool)]
        details: dict[str, Any] = {"agent_faults": reports}
        resets = self._reset_counts.get(applied.planned.key, 0)
        if applied.planned.fault == "db.connection-drop":
            details["connections_reset_at_apply"] = resets
            landed_flags.append(resets > 0)
        landed = any(landed_flags) if landed_flags else None
        return Evidence(landed, details)

    # -- cleanup -------------------------------------------------------------------------
    def cleanup(self, pending: Sequence[PendingFault]) -> list[CleanupResult]:
        """Revert, at once, every agent fault a pending ledger entry owns."""
        active = [f for f in self.client.faults() if f.get("state") == "active"]
        results = []
        for item in pending:
            key = item.intent.key
            if item.intent.data.get("fault") == "scaling.capacity-limit" and self._lab is not None:
                self._lab.lift_limit(key)
            owned = [f for f in active if _owns(key, str(f["id"]))]
            reverted: list[str] = []
            error = None
            for fault in owned:
                try:
                    self.client.revert_fault(str(fault["id"]))
                    reverted.append(str(fault["id"]))
                except ProviderError as exc:
                    error = exc.message
            results.append(
                CleanupResult(
                    key=key,
                    run_id=item.intent.run_id,
                    fault=str(item.intent.data.get("fault", "")),
                    reverted=tuple(reverted),
                    already_gone=() if owned else (key,),
                    error=error,
                )
            )
        return results

"""The fault registry: atomic fault sets, expiries that fire on their own, bounded history.

``apply`` validates every fault of a set (params, target, bounds) before touching anything,
then applies them in order; if one fails, the ones already applied are reverted and the
error names the one that failed. Every fault has an expiry; a timer thread reverts it then
(state ``expired``) even if no client ever asks. Reverting collects the final evidence.
Records of reverted faults are kept (the newest ``history`` of them).
"""

from __future__ import annotations

import heapq
import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ial_resilience.agent.errors import Conflict, FaultApplyFailed, NotFound
from ial_resilience.agent.injector import Injector
from ial_resilience.agent.models import FaultRequest, FaultState, HostTarget, LinkTarget
from ial_resilience.agent.processes import ProcessTable
from ial_resilience.errors import FaultRejected, IalrError

log = logging.getLogger("ialr.agent")
HISTORY = 500
REVERT_WAIT_S = 30.0


class Targets(Protocol):
    """What the registry needs to resolve a fault's target into an injector."""

    processes: ProcessTable

    def toxic_injector(self, link: str, request: FaultRequest, fault_id: str) -> Injector: ...


class FaultEvents(Protocol):
    def fault_event(self, kind: str, event: str) -> None: ...


@dataclass
class FaultRecord:
    id: str
    request: FaultRequest
    injector: Injector
    state: FaultState = FaultState.ACTIVE
    applied_at: float = 0.0
    expires_at: float = 0.0
    deadline: float = 0.0
    reverted_at: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    reverting: bool = False
    done: threading.Event = field(default_factory=threading.Event)

    def to_json(self, evidence: dict[str, Any]) -> dict[str, Any]:
        request = self.request
        return {
            "id": self.id,
            "kind": request.kind,
            "target": request.target_json(),
            "params": dict(request.params),
            "direction": request.direction,
            "toxicity": request.toxicity,
            "duration_ms": request.duration_ms,
            "label": request.label,
            "state": str(self.state),
            "mechanism": str(self.injector.mechanism),
            "applied_at": self.applied_at,
            "expires_at": self.expires_at,
            "reverted_at": self.reverted_at,
            "evidence": evidence,
            "error": self.error,
        }


def build_injector(targets: Targets, request: FaultRequest, fault_id: str) -> Injector:
    """Resolve the target and validate the fault; nothing is applied yet."""
    from ial_resilience.faults.process import PROCESS_KINDS, build_process_fault
    from ial_resilience.faults.resource import RESOURCE_KINDS, build_resource_fault

    target = request.target
    kind = request.kind
    if isinstance(target, LinkTarget):
        if kind in PROCESS_KINDS | RESOURCE_KINDS:
            raise FaultRejected(f"fault {fault_id}: {kind!r} does not apply to a link target")
        return targets.toxic_injector(target.link, request, fault_id)
    if isinstance(target, HostTarget):
        if kind not in RESOURCE_KINDS:
            raise FaultRejected(
                f"fault {fault_id}: {kind!r} does not apply to the host; expected one of"
                f" {sorted(RESOURCE_KINDS)}"
            )
        return build_resource_fault(kind, fault_id, request.params, request.duration_ms / 1000)
    if kind not in PROCESS_KINDS:
        raise FaultRejected(
            f"fault {fault_id}: {kind!r} does not apply to a process; expected one of"
            f" {sorted(PROCESS_KINDS)}"
        )
    process = targets.processes.get(target.process)
    return build_process_fault(kind, targets.processes, process, request.params)


def _safe_evidence(record: FaultRecord) -> dict[str, Any]:
    if record.state is not FaultState.ACTIVE:
        return dict(record.evidence)
    try:
        return dict(record.injector.evidence())
    except Exception as error:  # evidence never breaks a status query
        return {**record.evidence, "evidence_error": f"{type(error).__name__}: {error}"}


class FaultRegistry:
    """Owns every applied fault until it is reverted or expires. Thread-safe."""

    def __init__(
        self,
        targets: Targets,
        events: FaultEvents | None = None,
        history: int = HISTORY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._targets = targets
        self._events = events
        self._history = history
        self._clock = clock
        self._ops = threading.Lock()  # serialises applies (reverts never wait for one)
        self._lock = threading.Condition()  # guards records and the expiry heap
        self._records: dict[str, FaultRecord] = {}
        self._heap: list[tuple[float, str]] = []
        self._closed = False
        self._timer = threading.Thread(target=self._expire_loop, name="fault-expiry", daemon=True)

    def start(self) -> None:
        self._timer.start()

    # apply --------------------------------------------------------------------------------

    def apply(self, requests: Sequence[FaultRequest]) -> list[dict[str, Any]]:
        """Apply a set atomically: all of them, or none (then the error names the culprit)."""
        with self._ops:
            records = self._build_all(requests)
            applied: list[FaultRecord] = []
            for record in records:
                try:
                    record.injector.apply()
                except Exception as error:
                    self._undo(applied)
                    self._remember_failure(record, error)
                    raise FaultApplyFailed(
                        f"fault {record.id} ({record.request.kind} on"
                        f" {record.request.target_json()}) failed to apply: {error}; the"
                        f" {len(applied)} fault(s) applied before it were reverted",
                        hint="fix the target or the parameters and apply the set again",
                    ) from error
                self._activate(record)
                applied.append(record)
            return [record.to_json(_safe_evidence(record)) for record in applied]

    def _build_all(self, requests: Sequence[FaultRequest]) -> list[FaultRecord]:
        ids = [request.id or f"f-{secrets.token_hex(4)}" for request in requests]
        if len(set(ids)) != len(ids):
            raise Conflict("the fault set names the same id twice; give each fault its own id")
        with self._lock:
            taken = [i for i in ids if self._is_active(i)]
        if taken:
            raise Conflict(f"fault {taken[0]} is already active; revert it first or use another id")
        records = []
        for fault_id, request in zip(ids, requests, strict=True):
            try:
                injector = build_injector(self._targets, request, fault_id)
            except IalrError as error:
                error.message = f"fault {fault_id} ({request.kind}): {error.message}"
                raise
            records.append(FaultRecord(id=fault_id, request=request, injector=injector))
        return records

    def _is_active(self, fault_id: str) -> bool:
        record = self._records.get(fault_id)
        return record is not None and record.state is FaultState.ACTIVE

    def _activate(self, record: FaultRecord) -> None:
        duration = record.request.duration_ms / 1000
        record.applied_at = self._clock()
        record.expires_at = record.applied_at + duration
        record.deadline = time.monotonic() + duration
        with self._lock:
            self._records.pop(record.id, None)
            self._records[record.id] = record
            heapq.heappush(self._heap, (record.deadline, record.id))
            self._lock.notify_all()
        self._emit(record.request.kind, "applied")
        log.info(
            "applied fault %s %s on %s",
            record.id,
            record.request.kind,
            record.request.target_json(),
        )

    def _undo(self, applied: list[FaultRecord]) -> None:
        for record in reversed(applied):
            self._revert(record, FaultState.REVERTED)

    def _remember_failure(self, record: FaultRecord, error: Exception) -> None:
        record.state = FaultState.FAILED
        record.error = f"{type(error).__name__}: {error}"
        record.applied_at = record.reverted_at = self._clock()
        record.expires_at = record.applied_at
        self._emit(record.request.kind, "failed")
        with self._lock:
            self._records.pop(record.id, None)
            self._records[record.id] = record
            self._trim()

    # revert -------------------------------------------------------------------------------

    def _claim(self, record: FaultRecord) -> bool:
        """Take the right to revert ``record``; false if it is not active or already taken."""
        with self._lock:
            if record.state is not FaultState.ACTIVE or record.reverting:
                return False
            record.reverting = True
            return True

    def _revert(self, record: FaultRecord, final: FaultState) -> None:
        """Undo one active fault once and keep its final evidence; others wait for it."""
        if not self._claim(record):
            record.done.wait(REVERT_WAIT_S)
            return
        try:
            evidence, state, error = dict(record.injector.revert()), final, None
        except Exception as failure:
            evidence = {**_safe_evidence(record), "revert_error": str(failure)}
            state, error = FaultState.FAILED, f"revert failed: {type(failure).__name__}: {failure}"
            log.error("fault %s: revert failed: %s", record.id, failure)
        with self._lock:
            record.evidence, record.state, record.error = evidence, state, error
            record.reverted_at = self._clock()
            self._trim()
        record.done.set()
        self._emit(record.request.kind, "expired" if state is FaultState.EXPIRED else "reverted")
        log.info("%s fault %s %s", state, record.id, record.request.kind)

    def revert(self, fault_id: str) -> dict[str, Any]:
        """Revert one fault (idempotent: a fault already reverted is answered as it is)."""
        record = self._record(fault_id)
        self._revert(record, FaultState.REVERTED)
        return record.to_json(_safe_evidence(record))

    def revert_all(self) -> list[dict[str, Any]]:
        return self.revert_matching(lambda record: True)

    def revert_matching(self, predicate: Callable[[FaultRecord], bool]) -> list[dict[str, Any]]:
        """Revert every active fault ``predicate`` selects, newest first."""
        with self._lock:
            active = [r for r in self._records.values() if r.state is FaultState.ACTIVE]
        chosen = [record for record in reversed(active) if predicate(record)]
        for record in chosen:
            self._revert(record, FaultState.REVERTED)
        return [record.to_json(_safe_evidence(record)) for record in chosen]

    # queries ------------------------------------------------------------------------------

    def _record(self, fault_id: str) -> FaultRecord:
        with self._lock:
            record = self._records.get(fault_id)
        if record is None:
            raise NotFound(f"no fault with id {fault_id!r}; list them with GET /v1/faults")
        return record

    def get(self, fault_id: str) -> dict[str, Any]:
        record = self._record(fault_id)
        return record.to_json(_safe_evidence(record))

    def all_faults(self) -> list[dict[str, Any]]:
        with self._lock:
            records = list(self._records.values())
        return [record.to_json(_safe_evidence(record)) for record in records]

    def active_count(self) -> int:
        with self._lock:
            return sum(1 for r in self._records.values() if r.state is FaultState.ACTIVE)

    # expiry -------------------------------------------------------------------------------

    def _expire_loop(self) -> None:
        """Wait for the next deadline; revert each due fault in its own thread (a slow revert
        never delays another fault's expiry)."""
        while True:
            with self._lock:
                while not self._closed and not self._due():
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._lock.wait(timeout)
                if self._closed:
                    return
                _, fault_id = heapq.heappop(self._heap)
                record = self._records.get(fault_id)
            if record is not None and record.deadline <= time.monotonic():
                threading.Thread(
                    target=self._revert,
                    args=(record, FaultState.EXPIRED),
                    name=f"expire-{fault_id}",
                    daemon=True,
                ).start()

    def _due(self) -> bool:
        return bool(self._heap) and self._heap[0][0] <= time.monotonic()

    def close(self) -> list[dict[str, Any]]:
        """Revert every active fault and stop the expiry timer."""
        reverted = self.revert_all()
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        if self._timer.is_alive():
            self._timer.join(5)
        return reverted

    # helpers ------------------------------------------------------------------------------

    def _trim(self) -> None:
        """Drop the oldest finished records beyond the history bound. Caller holds ``_lock``."""
        finished = [i for i, r in self._records.items() if r.state is not FaultState.ACTIVE]
        for fault_id in finished[: max(0, len(finished) - self._history)]:
            del self._records[fault_id]

    def _emit(self, kind: str, event: str) -> None:
        if self._events is not None:
            try:
                self._events.fault_event(kind, event)
            except Exception:  # metrics never break the registry
                log.exception("metrics hook failed")

"""The fault registry on its own, with recording injectors (the registry is what is tested)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ial_resilience.agent.errors import Conflict, FaultApplyFailed, NotFound
from ial_resilience.agent.injector import Injector, Mechanism
from ial_resilience.agent.models import FaultRequest
from ial_resilience.agent.processes import ProcessTable
from ial_resilience.agent.registry import FaultRegistry
from ial_resilience.errors import FaultRejected


class Recorder:
    """An injector that records what the registry asked of it."""

    mechanism = Mechanism.PROXY

    def __init__(self, log: list[str], name: str, fail: str = "") -> None:
        self.log, self.name, self.fail = log, name, fail

    def apply(self) -> None:
        if self.fail == "apply":
            raise OSError("boom")
        self.log.append(f"apply {self.name}")

    def evidence(self) -> dict[str, Any]:
        return {"landed": True, "name": self.name}

    def revert(self) -> dict[str, Any]:
        if self.fail == "revert":
            raise OSError("stuck")
        self.log.append(f"revert {self.name}")
        return {"landed": True, "final": self.name}


class Targets:
    def __init__(self, tmp_path: Path) -> None:
        self.processes = ProcessTable(tmp_path)
        self.log: list[str] = []

    def toxic_injector(self, link: str, request: FaultRequest, fault_id: str) -> Injector:
        if link == "missing":
            raise NotFound(f"no link named {link!r}")
        return Recorder(self.log, fault_id, fail=str(request.params.get("fail", "")))


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def fault_event(self, kind: str, event: str) -> None:
        self.seen.append((kind, event))


def req(fault_id: str, duration_ms: int = 60_000, link: str = "a", **params: Any) -> FaultRequest:
    return FaultRequest.model_validate({
        "id": fault_id, "kind": "latency", "target": {"link": link}, "params": params,
        "duration_ms": duration_ms,
    })  # fmt: skip


@pytest.fixture
def targets(tmp_path: Path) -> Targets:
    return Targets(tmp_path)


@pytest.fixture
def registry(targets: Targets) -> Any:
    events = Events()
    registry = FaultRegistry(targets, events=events, history=3)
    registry.events = events  # type: ignore[attr-defined]
    registry.start()
    yield registry
    registry.close()


def test_a_set_is_validated_before_anything_is_applied(
    registry: FaultRegistry, targets: Targets
) -> None:
    with pytest.raises(NotFound, match=r"fault b .*no link named 'missing'"):
        registry.apply([req("a"), req("b", link="missing")])
    assert targets.log == [] and registry.all_faults() == []


def test_a_failed_apply_reverts_the_ones_before_it(
    registry: FaultRegistry, targets: Targets
) -> None:
    with pytest.raises(FaultApplyFailed, match=r"fault c .*failed to apply: boom; the 2 fault"):
        registry.apply([req("a"), req("b"), req("c", fail="apply")])
    assert targets.log == ["apply a", "apply b", "revert b", "revert a"]
    states = {f["id"]: f["state"] for f in registry.all_faults()}
    assert states == {"a": "reverted", "b": "reverted", "c": "failed"}
    assert registry.active_count() == 0


def test_ids_must_be_unique_among_active_faults(registry: FaultRegistry) -> None:
    with pytest.raises(Conflict, match="same id twice"):
        registry.apply([req("a"), req("a")])
    registry.apply([req("a")])
    with pytest.raises(Conflict, match="fault a is already active"):
        registry.apply([req("a")])
    registry.revert("a")
    assert registry.apply([req("a")])[0]["state"] == "active"  # a finished id may be reused


def test_expiry_reverts_on_its_own(registry: FaultRegistry, targets: Targets) -> None:
    [fault] = registry.apply([req("a", duration_ms=50)])
    assert fault["expires_at"] == pytest.approx(fault["applied_at"] + 0.05)
    deadline = time.monotonic() + 5
    while "revert a" not in targets.log and time.monotonic() < deadline:
        time.sleep(0.005)
    final = registry.get("a")
    assert final["state"] == "expired" and final["evidence"] == {"landed": True, "final": "a"}
    assert final["reverted_at"] - final["applied_at"] >= 0.05
    assert ("latency", "expired") in registry.events.seen  # type: ignore[attr-defined]


def test_revert_is_done_once_even_when_asked_concurrently(
    registry: FaultRegistry, targets: Targets
) -> None:
    registry.apply([req("a")])
    threads = [threading.Thread(target=registry.revert, args=("a",)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert targets.log.count("revert a") == 1
    assert registry.get("a")["state"] == "reverted"


def test_a_failed_revert_is_recorded_not_hidden(registry: FaultRegistry) -> None:
    registry.apply([req("a", fail="revert")])
    fault = registry.revert("a")
    assert fault["state"] == "failed" and "stuck" in fault["error"]
    assert fault["evidence"]["revert_error"] == "stuck"


def test_history_is_bounded_and_active_faults_are_kept(registry: FaultRegistry) -> None:
    registry.apply([req("keep")])
    for index in range(6):
        registry.apply([req(f"f{index}")])
        registry.revert(f"f{index}")
    ids = [fault["id"] for fault in registry.all_faults()]
    assert ids == ["keep", "f3", "f4", "f5"]
    with pytest.raises(NotFound):
        registry.get("f0")


def test_close_reverts_everything_newest_first(registry: FaultRegistry, targets: Targets) -> None:
    registry.apply([req("a"), req("b")])
    reverted = registry.close()
    assert [fault["id"] for fault in reverted] == ["b", "a"]
    assert targets.log[-2:] == ["revert b", "revert a"]


def test_fault_kinds_must_match_their_target(registry: FaultRegistry) -> None:
    host = {"kind": "kill", "target": {"host": True}, "duration_ms": 10}
    with pytest.raises(FaultRejected, match="does not apply to the host"):
        registry.apply([FaultRequest.model_validate(host)])
    process = {"kind": "cpu", "target": {"process": "x"}, "duration_ms": 10}
    with pytest.raises(FaultRejected, match="does not apply to a process"):
        registry.apply([FaultRequest.model_validate(process)])
    assert registry.all_faults() == []

"""The bundled lab for integration and end-to-end tests: started once per test session.

    from tests.lab_fixtures import lab  # noqa: F401  (pytest fixture)

    def test_something(lab: RunningLab) -> None:
        httpx.post(f"{lab.exports['lb']}/orders", json={"item": "x", "amount": 1})

``lab`` yields a :class:`RunningLab`: the :class:`LabInfo` (``info``, ``exports``,
``variables``), its state dir, an :class:`AgentClient` (``agent``) and helpers for the
control plane. The lab is stopped at the end of the session (and its leftovers checked).
Tests that change the lab for good (``db.failover``) must run last in their module and say so.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ial_resilience.agent.client import AgentClient
from ial_resilience.lab import Lab, LabInfo

UP_TIMEOUT_S = 90.0  # a deadline for loaded CI machines, not a sleep


@dataclass
class RunningLab:
    lab: Lab
    info: LabInfo
    state_dir: Path
    agent: AgentClient

    @property
    def exports(self) -> dict[str, str]:
        return self.info.exports

    def variables(self) -> dict[str, str]:
        return self.info.variables()

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.request(method, f"{self.exports['control']}{path}", json=body, timeout=15)
        response.raise_for_status()
        return response.json()

    def targets(self) -> dict[str, str]:
        """LB target name → state."""
        return {t["name"]: t["state"] for t in self.control("GET", "/v1/lb/targets")["targets"]}


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


@pytest.fixture(scope="session")
def lab() -> Iterator[RunningLab]:
    with tempfile.TemporaryDirectory(prefix="ialr-lab-") as tmp:
        state_dir = Path(tmp) / "state"
        runtime = Lab(state_dir)
        info = runtime.up(timeout=UP_TIMEOUT_S)
        agent = AgentClient.from_state_dir(state_dir, timeout=10.0)
        try:
            yield RunningLab(runtime, info, state_dir, agent)
        finally:
            agent.close()
            left = runtime.down()
            assert not left, f"lab down left processes behind: {left}"

"""The lab executor (docs/INTERFACES.md §10): versions of the lab's API replicas.

It speaks to the lab's control plane (``GET /v1/deploy``, ``POST /v1/deploy/default``,
``POST /v1/deploy/replicas/NAME``): a replica is replaced by one of another version (its
env, see ``lab.versions``), and served once the LB's health checks pass. ``state()`` reads
the control plane; it never guesses (the control plane down → phase ``unknown``).
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from ial_resilience.errors import InputError, ProviderError
from ial_resilience.lab.versions import Version, Versions
from ial_resilience.rollback.model import (
    DeploymentState,
    Phase,
    RollbackError,
    RollbackOutcome,
    RollbackRefused,
)

POLL_S = 0.1


class LabDeployment:
    """Client of the control plane's deployment API (all errors → ``ProviderError``)."""

    def __init__(self, control_url: str, versions: Versions, *, timeout: float = 10.0) -> None:
        self.url = control_url.rstrip("/")
        self.versions = versions
        self._http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = self._http.request(method, f"{self.url}{path}", json=body)
        except httpx.HTTPError as error:
            raise ProviderError(
                f"the lab's control plane ({self.url}) did not answer {method} {path}: {error}",
                hint="is the lab up and its control plane running? `ialr lab status`",
            ) from error
        if response.status_code >= 400:
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:200]
            raise ProviderError(f"control plane refused {method} {path}: {message}")
        return response.json()

    def name_of(self, raw: str) -> str:
        return raw or self.versions.baseline  # replicas from `lab up` run the baseline

    def replicas(self) -> dict[str, str]:
        """Replica name → version it runs."""
        data = self._call("GET", "/v1/deploy")
        return {r["name"]: self.name_of(str(r["version"])) for r in data["replicas"]}

    def default(self) -> str:
        return self.name_of(str(self._call("GET", "/v1/deploy")["default"]))

    def set_default(self, version: Version) -> None:
        self._call("POST", "/v1/deploy/default", {"version": version.name, "env": version.env()})

    def replace(self, replica: str, version: Version) -> None:
        body = {"version": version.name, "env": version.env()}
        self._call("POST", f"/v1/deploy/replicas/{replica}", body)

    def pids(self) -> dict[str, int]:
        """Replica name → pid (the control plane's supervisor)."""
        data = self._call("GET", "/v1/supervisor")
        return {r["name"]: int(r["pid"]) for r in data["replicas"] if r.get("alive")}

    def healthy(self) -> set[str]:
        targets = self._call("GET", "/v1/lb/targets")["targets"]
        return {t["name"] for t in targets if t["state"] == "healthy"}

    def wait_healthy(self, names: set[str], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if names <= self.healthy():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_S)


class LabExecutor:
    """Rolls the lab's API replicas back to ``previous`` (§10)."""

    name = "lab"

    def __init__(self, deployment: LabDeployment, previous: str | None, service: str = "api"):
        self.deployment = deployment
        self.previous = previous
        self.target = service
        self._rolled = False  # rollback() finished its changes (stable again = rolled back)

    def state(self) -> DeploymentState:
        try:
            replicas = self.deployment.replicas()
            default = self.deployment.default()
        except ProviderError as error:
            return DeploymentState(
                self.name,
                self.target,
                None,
                self.previous,
                Phase.UNKNOWN,
                f"cannot read the control plane: {error.message}",
            )
        running = sorted(set(replicas.values()))
        detail = ", ".join(f"{n}={v}" for n, v in sorted(replicas.items()))
        if len(running) == 1 and running[0] == default:
            phase = (
                Phase.ROLLED_BACK if running[0] == self.previous and self._rolled else Phase.STABLE
            )
            return DeploymentState(self.name, self.target, running[0], self.previous, phase, detail)
        newest = next((v for v in running if v != self.previous), default)
        return DeploymentState(
            self.name, self.target, newest, self.previous, Phase.ROLLING_OUT, detail
        )

    def rollback(self, reason: str, *, timeout: float) -> RollbackOutcome:
        started = time.time()
        before = self.state()
        if self.previous is None or self.previous not in self.deployment.versions.versions:
            raise RollbackRefused(
                f"the lab cannot roll back: no previous version known ({before.detail})",
                before,
                hint="deploy a known version with `ialr deploy VERSION` instead",
            )
        if before.phase is Phase.UNKNOWN:
            raise RollbackRefused(f"the lab cannot roll back: {before.detail}", before)
        target = self.deployment.versions.get(self.previous)
        deadline = time.monotonic() + timeout
        try:
            self.deployment.set_default(target)
            done: set[str] = set()
            while time.monotonic() < deadline:
                replicas = self.deployment.replicas()
                pending = sorted(
                    n for n, v in replicas.items() if v != target.name and n not in done
                )
                if not pending:
                    break
                done.add(pending[0])
                try:
                    self.deployment.replace(pending[0], target)
                except ProviderError:
                    if pending[0] in self.deployment.replicas():
                        raise
                    # scaled in meanwhile: nothing to replace
            left = max(0.0, deadline - time.monotonic())
            healthy = self.deployment.wait_healthy(set(self.deployment.replicas()), left)
        except (ProviderError, InputError) as error:
            state = self.state()
            raise RollbackError(
                f"rollback to {target.name} failed: {error.message}; deployment: "
                f"{state.phase.value} ({state.detail})",
                state,
                hint="the decision record says which replicas run which version; "
                "run `ialr deploy` of the previous version once the control plane answers",
            ) from error
        self._rolled = True
        state = self.state()
        finished = state.version == target.name and state.phase is Phase.ROLLED_BACK
        if not (finished and healthy):
            raise RollbackError(
                f"rollback to {target.name} not finished within {timeout:.0f}s: "
                f"{state.phase.value} ({state.detail}); healthy={healthy}",
                state,
            )
        return RollbackOutcome(True, state, started, time.time(), f"rolled back: {reason}")

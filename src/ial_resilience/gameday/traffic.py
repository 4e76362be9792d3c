"""The game day's real users: the load generator as a child process, and the lab's control
plane figures (replica addresses, supervisor restarts) read between experiments."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ial_resilience.errors import ProviderError

READY_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class SettleRule:
    """Traffic is steady: availability ≥ ``availability`` and p95 ≤ ``p95_ms`` for ``hold`` s."""

    availability: float = 0.99
    p95_ms: float = 500.0
    hold: float = 2.0
    limit: float = 20.0

    def holds(self, window: dict[str, Any]) -> bool:
        availability, p95 = window.get("availability"), window.get("p95_ms")
        return (
            availability is not None
            and p95 is not None
            and availability >= self.availability
            and p95 <= self.p95_ms
        )


@dataclass
class LoadgenProcess:
    """``python -m ial_resilience.lab.loadgen`` writing into ``store``; stop() → its summary."""

    url: str
    rate: float
    store: Path
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    stats_url: str = ""
    mix: str = ""  # the users' requests, "GET /orders=4,POST /orders=1" (the lab's) if empty

    def start(self) -> None:
        ready = self.workdir / "loadgen.ready.json"
        log = self.workdir / "loadgen.log"
        argv = [sys.executable, "-m", "ial_resilience.lab.loadgen", "--url", self.url,
                "--rate", f"{self.rate:g}", "--store", str(self.store), "--stats-port", "0",
                "--ready-file", str(ready), *(["--mix", self.mix] if self.mix else [])]  # fmt: skip
        with log.open("wb") as err:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = log.read_text(errors="replace")[-1500:]
                raise ProviderError(
                    f"the load generator did not start within {READY_TIMEOUT_S:g}s: {tail}",
                    hint=f"see {log}",
                )
            time.sleep(0.05)
        self.stats_url = str(json.loads(ready.read_text())["stats_url"])

    def wait_for_traffic(self, minimum: int, timeout: float = 15.0) -> None:
        """Until ``minimum`` requests succeeded (the steady state needs traffic to judge)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                if int(httpx.get(f"{self.stats_url}/stats", timeout=1).json()["ok"]) >= (minimum):
                    return
            time.sleep(0.1)
        raise ProviderError(
            f"fewer than {minimum} requests of the load generator succeeded in {timeout:g}s",
            hint="check that the lab's load balancer answers (ialr lab status)",
        )

    def window(self) -> dict[str, Any]:
        """The live 1 s window (availability, p50/p95/p99); {} when it cannot be read."""
        with contextlib.suppress(httpx.HTTPError, ValueError):
            data = httpx.get(f"{self.stats_url}/stats", timeout=1).json()
            return dict(data.get("window") or {})
        return {}

    def settle(self, rule: SettleRule) -> dict[str, Any]:
        """Wait until the traffic is steady for ``rule.hold`` seconds (at most ``rule.limit``).

        Between experiments, so that one starts from the steady state and not from the tail of
        the previous one; never a pass/fail decision (the experiment's own steady state is).
        """
        began = time.monotonic()
        steady_since: float | None = None
        while time.monotonic() - began < rule.limit:
            now = time.monotonic()
            if rule.holds(self.window()):
                steady_since = now if steady_since is None else steady_since
                if now - steady_since >= rule.hold:
                    return {"settled": True, "waited_s": round(now - began, 2)}
            else:
                steady_since = None
            time.sleep(0.25)
        return {"settled": False, "waited_s": round(time.monotonic() - began, 2)}

    def stop(self) -> dict[str, Any]:
        """SIGTERM, wait for the flush, return the summary it printed ({} if none)."""
        process = self.process
        if process is None:
            return {}
        self.process = None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            out, _ = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            out, _ = process.communicate()
        with contextlib.suppress(ValueError):
            summary: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
            return summary
        return {}


def control_json(control_url: str | None, path: str) -> dict[str, Any] | None:
    """GET a control-plane endpoint; None when there is no control plane or it fails."""
    if not control_url:
        return None
    try:
        response = httpx.get(f"{control_url}{path}", timeout=2.0)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data
    except (httpx.HTTPError, ValueError):
        return None


def replica_variables(control_url: str | None) -> dict[str, str]:
    """``replica.api-1`` → ``http://<its lb->api-1 address>`` for every registered target."""
    data = control_json(control_url, "/v1/lb/targets") or {}
    return {
        f"replica.{t['name']}": f"http://{t['address']}"
        for t in data.get("targets", [])
        if "name" in t and "address" in t
    }


def restarts_total(control_url: str | None) -> int | None:
    data = control_json(control_url, "/v1/supervisor")
    return None if data is None else int(data.get("restarts_total", 0))

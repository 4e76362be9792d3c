"""Process faults on processes the agent knows (:mod:`ial_resilience.agent.processes`).

- ``kill``: send ``signal`` (default SIGKILL) and wait for the exit. Revert starts an
  agent-spawned process again if it is still dead (``respawn_on_revert``, default true); an
  adopted process stays dead (the agent cannot start it). Evidence: pid, signal, exit observed.
- ``pause``: SIGSTOP now, SIGCONT at revert. Evidence: the process was seen stopped.
- ``restart``: SIGTERM, SIGKILL after ``grace_ms``, start again with the same argv (spawned
  processes only). The restart is done at apply; revert has nothing left to undo.
  Evidence: old and new pid.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ial_resilience.agent.injector import Injector, Mechanism
from ial_resilience.agent.processes import ManagedProcess, Origin, ProcessTable, wait_until
from ial_resilience.errors import FaultRejected

PROCESS_KINDS = frozenset({"kill", "pause", "restart"})
KILL_SIGNALS = ("SIGKILL", "SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGABRT")
EXIT_WAIT_S = 2.0
STOP_SEEN_WAIT_S = 1.0


class _Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class KillParams(_Params):
    signal: str = "SIGKILL"
    respawn_on_revert: bool = True

    @field_validator("signal")
    @classmethod
    def _known_signal(cls, value: str) -> str:
        name = value.upper() if value.upper().startswith("SIG") else f"SIG{value.upper()}"
        if name not in KILL_SIGNALS:
            raise ValueError(f"signal {value!r} is not one of {', '.join(KILL_SIGNALS)}")
        return name


class PauseParams(_Params):
    pass


class RestartParams(_Params):
    grace_ms: int = Field(default=5000, ge=0, le=60_000)


def _parse(model: type[_Params], kind: str, params: Mapping[str, Any]) -> Any:
    try:
        return model.model_validate(dict(params))
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'params'}: {e['msg']}" for e in error.errors()
        )
        raise FaultRejected(f"{kind} fault: invalid params: {problems}") from error


class KillFault:
    mechanism = Mechanism.SIGNAL

    def __init__(self, table: ProcessTable, process: ManagedProcess, params: KillParams) -> None:
        self._table, self._process, self._params = table, process, params
        self._pid = process.pid
        self._found: dict[str, Any] = {"pid": process.pid, "signal": params.signal, "landed": False}

    def apply(self) -> None:
        self._pid = self._process.pid
        self._table.send(self._process, signal.Signals[self._params.signal])
        status = self._table.wait_exit(self._process, EXIT_WAIT_S)
        exited = not self._table.is_alive(self._process)
        self._found = {
            "pid": self._pid,
            "signal": self._params.signal,
            "exit_observed": exited,
            "exit_status": status,
            "landed": exited,
        }

    def evidence(self) -> dict[str, Any]:
        return dict(self._found)

    def revert(self) -> dict[str, Any]:
        process = self._process
        respawn = self._params.respawn_on_revert and process.origin is Origin.SPAWNED
        if respawn and not self._table.is_alive(process):
            self._found["respawned_pid"] = self._table.respawn(process)
        return self.evidence()


class PauseFault:
    mechanism = Mechanism.SIGNAL

    def __init__(self, table: ProcessTable, process: ManagedProcess) -> None:
        self._table, self._process = table, process
        self._found: dict[str, Any] = {"pid": process.pid, "landed": False}
        self._stopped_at = 0.0

    def apply(self) -> None:
        if self._process.paused:
            raise FaultRejected(
                f"process {self._process.name!r} is already paused by another fault; a second"
                " pause would be resumed by the first one's revert",
                hint="revert the other pause first",
            )
        self._table.send(self._process, signal.SIGSTOP)
        self._process.paused = True
        self._stopped_at = time.monotonic()
        seen = wait_until(lambda: self._table.is_stopped(self._process), STOP_SEEN_WAIT_S)
        self._found = {"pid": self._process.pid, "seen_stopped": seen, "landed": seen}

    def evidence(self) -> dict[str, Any]:
        return dict(self._found)

    def revert(self) -> dict[str, Any]:
        resumed = False
        if self._table.is_alive(self._process):
            self._table.send(self._process, signal.SIGCONT)
            resumed = True
        self._process.paused = False
        self._found["resumed"] = resumed
        self._found["stopped_for_s"] = round(time.monotonic() - self._stopped_at, 3)
        return self.evidence()


class RestartFault:
    mechanism = Mechanism.SIGNAL

    def __init__(self, table: ProcessTable, process: ManagedProcess, params: RestartParams) -> None:
        self._table, self._process, self._params = table, process, params
        self._found: dict[str, Any] = {"old_pid": process.pid, "landed": False}

    def apply(self) -> None:
        old_pid = self._process.pid
        status = self._table.terminate(self._process, grace=self._params.grace_ms / 1000)
        new_pid = self._table.respawn(self._process)
        self._found = {
            "old_pid": old_pid,
            "new_pid": new_pid,
            "exit_status": status,
            "landed": new_pid != old_pid and self._table.is_alive(self._process),
        }

    def evidence(self) -> dict[str, Any]:
        return dict(self._found)

    def revert(self) -> dict[str, Any]:
        return self.evidence()


def build_process_fault(
    kind: str, table: ProcessTable, process: ManagedProcess, params: Mapping[str, Any]
) -> Injector:
    """Validate ``params`` for ``kind`` and return an unapplied injector."""
    if kind == "kill":
        return KillFault(table, process, _parse(KillParams, kind, params))
    if kind == "pause":
        _parse(PauseParams, kind, params)
        return PauseFault(table, process)
    if kind == "restart":
        if process.origin is not Origin.SPAWNED:
            raise FaultRejected(
                f"restart fault: process {process.name!r} was adopted by pid; only processes the"
                " agent spawned can be restarted",
                hint="register the process with argv instead of pid",
            )
        return RestartFault(table, process, _parse(RestartParams, kind, params))
    raise FaultRejected(f"{kind!r} is not a process fault; expected one of {sorted(PROCESS_KINDS)}")

"""Resource faults with hard bounds, each consuming the resource in child processes the agent
owns and stops at revert or expiry.

- ``cpu``: ``workers`` (1 … cores) busy loops at ``load`` % duty cycle (1–100, 100 ms period).
  Evidence: CPU seconds the workers consumed.
- ``memory``: one child allocates ``bytes`` and touches every page. Refused above 50 % of the
  memory psutil reports available. Evidence: the child's RSS.
- ``disk``: one child writes a filler file of ``bytes`` into ``directory`` (which must exist).
  Refused above 50 % of that filesystem's free space. The file is removed at revert.
  Evidence: bytes written.

Children never outlive their purpose: each exits by itself at the fault's expiry (plus a
margin) or as soon as its parent (the agent) is gone, so a ``kill -9`` of the agent does not
leave a machine burning CPU or holding memory.

The children run :mod:`ial_resilience.agent.stress_child` (standard library only, so they
start fast).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psutil
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ial_resilience.agent.injector import Injector, Mechanism
from ial_resilience.agent.processes import wait_until
from ial_resilience.errors import FaultRejected
from ial_resilience.units import format_size, parse_size

RESOURCE_KINDS = frozenset({"cpu", "memory", "disk"})
MEMORY_SHARE = 0.5
DISK_SHARE = 0.5
LIFETIME_MARGIN_S = 5.0
STOP_GRACE_S = 2.0
FILLER_PREFIX = ".ialr-disk-fill-"


class _Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CpuParams(_Params):
    workers: int = Field(default=1, ge=1, strict=True)
    load: float = Field(default=100.0, ge=1, le=100)


def _size(value: object) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, (int, str)) or isinstance(value, bool):
        raise ValueError(f"{value!r} is not a size in bytes (an integer or a string like 64MiB)")
    size = parse_size(value)
    if size <= 0:
        raise ValueError("must be more than 0 bytes")
    return size


class MemoryParams(_Params):
    bytes: int

    _sized = field_validator("bytes", mode="before")(lambda cls, v: _size(v))


class DiskParams(_Params):
    directory: str
    bytes: int

    _sized = field_validator("bytes", mode="before")(lambda cls, v: _size(v))


def _parse(model: type[_Params], kind: str, params: Mapping[str, Any]) -> Any:
    try:
        return model.model_validate(dict(params))
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'params'}: {e['msg']}" for e in error.errors()
        )
        raise FaultRejected(f"{kind} fault: invalid params: {problems}") from error


def _spawn_child(*args: str) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable,
        "-m",
        "ial_resilience.agent.stress_child",
        *args,
        "--parent",
        str(os.getpid()),
    ]
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def _stop_child(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(STOP_GRACE_S)


def _cpu_seconds(child: subprocess.Popen[bytes]) -> float:
    try:
        times = psutil.Process(child.pid).cpu_times()
        return float(times.user + times.system)
    except psutil.Error:
        return 0.0


class CpuStress:
    mechanism = Mechanism.STRESS

    def __init__(self, params: CpuParams, lifetime_s: float) -> None:
        self._params, self._lifetime = params, lifetime_s
        self._children: list[subprocess.Popen[bytes]] = []
        self._seconds: dict[int, float] = {}
        self._started = 0.0

    def apply(self) -> None:
        self._started = time.monotonic()
        for _ in range(self._params.workers):
            self._children.append(
                _spawn_child(
                    "cpu", "--load", str(self._params.load), "--lifetime", str(self._lifetime)
                )
            )

    def evidence(self) -> dict[str, Any]:
        for child in self._children:
            if child.poll() is None:
                self._seconds[child.pid] = _cpu_seconds(child)
        consumed = round(sum(self._seconds.values()), 3)
        return {
            "workers": self._params.workers,
            "load": self._params.load,
            "worker_pids": [child.pid for child in self._children],
            "cpu_seconds": consumed,
            "wall_seconds": round(time.monotonic() - self._started, 3),
            "landed": consumed > 0,
        }

    def revert(self) -> dict[str, Any]:
        found = self.evidence()
        for child in self._children:
            _stop_child(child)
        return found


class MemoryStress:
    mechanism = Mechanism.STRESS

    def __init__(self, params: MemoryParams, lifetime_s: float) -> None:
        self._params, self._lifetime = params, lifetime_s
        self._child: subprocess.Popen[bytes] | None = None
        self._peak_rss = 0

    def _rss(self) -> int:
        if self._child is not None and self._child.poll() is None:
            with contextlib.suppress(psutil.Error):
                self._peak_rss = max(
                    self._peak_rss, psutil.Process(self._child.pid).memory_info().rss
                )
        return self._peak_rss

    def apply(self) -> None:
        self._child = _spawn_child(
            "memory", "--bytes", str(self._params.bytes), "--lifetime", str(self._lifetime)
        )
        budget = 10.0 + self._params.bytes / (256 << 20)
        wait_until(lambda: self._rss() >= self._params.bytes or self._child_gone(), budget)
        if self._child_gone():
            raise FaultRejected(
                "memory fault: the allocating child exited before holding"
                f" {format_size(self._params.bytes)}"
            )

    def _child_gone(self) -> bool:
        return self._child is None or self._child.poll() is not None

    def evidence(self) -> dict[str, Any]:
        rss = self._rss()
        return {
            "bytes": self._params.bytes,
            "rss_bytes": rss,
            "pid": self._child.pid if self._child else None,
            "landed": rss >= self._params.bytes,
        }

    def revert(self) -> dict[str, Any]:
        found = self.evidence()
        if self._child is not None:
            _stop_child(self._child)
        return found


class DiskFill:
    mechanism = Mechanism.STRESS

    def __init__(self, params: DiskParams, fault_id: str, lifetime_s: float) -> None:
        self._params, self._lifetime = params, lifetime_s
        safe_id = "".join(c if c.isalnum() or c in "-_" else "_" for c in fault_id)
        self.path = Path(params.directory) / f"{FILLER_PREFIX}{safe_id}"
        self._child: subprocess.Popen[bytes] | None = None
        self._written = 0
        self._removed = False

    def _size(self) -> int:
        with contextlib.suppress(OSError):
            self._written = max(self._written, self.path.stat().st_size)
        return self._written

    def apply(self) -> None:
        if self.path.exists():
            raise FaultRejected(
                f"disk fault: {self.path} already exists; remove it or use another id"
            )
        self._child = _spawn_child(
            "disk",
            "--path",
            str(self.path),
            "--bytes",
            str(self._params.bytes),
            "--lifetime",
            str(self._lifetime),
        )
        wait_until(
            lambda: self._size() > 0 or self._child is None or self._child.poll() is not None, 5.0
        )

    def evidence(self) -> dict[str, Any]:
        written = self._size()
        return {
            "path": str(self.path),
            "bytes": self._params.bytes,
            "bytes_written": written,
            "complete": written >= self._params.bytes,
            "removed": self._removed,
            "landed": written > 0,
        }

    def revert(self) -> dict[str, Any]:
        self._size()
        if self._child is not None:
            _stop_child(self._child)
        self.path.unlink(missing_ok=True)
        self._removed = not self.path.exists()
        return self.evidence()


def _check_cpu(params: CpuParams) -> None:
    cores = os.cpu_count() or 1
    if params.workers > cores:
        raise FaultRejected(
            f"cpu fault: workers {params.workers} is above the bound of {cores}"
            " (the machine's cores)",
            hint=f"ask for at most {cores} workers",
        )


def _check_memory(params: MemoryParams) -> None:
    bound = int(psutil.virtual_memory().available * MEMORY_SHARE)
    if params.bytes > bound:
        raise FaultRejected(
            f"memory fault: {format_size(params.bytes)} asked is above the bound of"
            f" {format_size(bound)} (50% of available memory)",
            hint=f"ask for at most {bound} bytes",
        )


def _check_disk(params: DiskParams) -> None:
    directory = Path(params.directory)
    if not directory.is_absolute() or not directory.is_dir():
        raise FaultRejected(
            f"disk fault: directory {params.directory!r} is not an existing absolute directory"
        )
    bound = int(shutil.disk_usage(directory).free * DISK_SHARE)
    if params.bytes > bound:
        raise FaultRejected(
            f"disk fault: {format_size(params.bytes)} asked is above the bound of"
            f" {format_size(bound)} (50% of the free space on {directory})",
            hint=f"ask for at most {bound} bytes",
        )


def build_resource_fault(
    kind: str, fault_id: str, params: Mapping[str, Any], lifetime_s: float
) -> Injector:
    """Validate ``params`` and bounds for ``kind``; return an unapplied injector."""
    lifetime = lifetime_s + LIFETIME_MARGIN_S
    if kind == "cpu":
        cpu = _parse(CpuParams, kind, params)
        _check_cpu(cpu)
        return CpuStress(cpu, lifetime)
    if kind == "memory":
        memory = _parse(MemoryParams, kind, params)
        _check_memory(memory)
        return MemoryStress(memory, lifetime)
    if kind == "disk":
        disk = _parse(DiskParams, kind, params)
        _check_disk(disk)
        return DiskFill(disk, fault_id, lifetime)
    raise FaultRejected(
        f"{kind!r} is not a resource fault; expected one of {sorted(RESOURCE_KINDS)}"
    )

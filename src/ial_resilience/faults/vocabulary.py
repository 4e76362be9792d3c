"""The fault vocabulary: every fault an experiment may name, its targets and its parameters.

Each :class:`FaultKind` has a name (``network.latency``), the kinds of target it applies to, a
frozen pydantic model for its parameters (as written under ``with:`` in an experiment file,
durations and sizes as strings such as ``200ms`` or ``64MiB``) and a one-line description.
Providers say which kinds they support; the vocabulary itself is provider-neutral.

Parsed parameters are plain numbers: durations in seconds (float), sizes in bytes (int), rates
in bytes per second. :meth:`FaultParams.agent_attributes` gives the attributes of the local
agent's fault request (docs/INTERFACES.md §1–2: milliseconds, kilobytes/s) and
:attr:`FaultKind.agent_kind` the agent's kind, for faults the agent carries out itself.

This module depends on nothing else in the package except :mod:`ial_resilience.units`, so that
the spec models can build on it.
"""

from __future__ import annotations

import difflib
import signal
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from ial_resilience.units import DURATION_FORM, SIZE_FORM, parse_duration, parse_size

DURATION_PATTERN = r"^\s*\d+(\.\d+)?\s*(us|µs|ms|s|m|h|d)\s*$"
SIZE_PATTERN = r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|k|K|M|G)?\s*$"
DAY = 86400.0


class TargetKind(StrEnum):
    """What a fault can be aimed at (the key used in an experiment's ``targets``)."""

    LINK = "link"
    SERVICE = "service"
    PROCESS = "process"
    DATABASE = "database"
    HOST = "host"


def duration_validator(*, allow_zero: bool = False, maximum: float = DAY) -> BeforeValidator:
    """Validator for a float of seconds written as ``250ms``/``30s``/``5m`` in files.

    ``allow_zero`` admits ``0s``; anything above ``maximum`` seconds is refused as absurd.
    Use as ``Annotated[float, duration_validator(...), DURATION_SCHEMA]``.
    """

    def check(value: Any) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool) and value == 0:
            value = "0s"  # a bare 0 is unambiguous
        try:
            seconds = parse_duration(value)
        except ValueError:
            raise PydanticCustomError("duration", DURATION_FORM) from None
        if seconds == 0 and not allow_zero:
            raise PydanticCustomError("duration", "a duration greater than zero, such as 30s")
        if seconds > maximum:
            limit = f"{maximum / 3600:g}h" if maximum >= 3600 else f"{maximum:g}s"
            raise PydanticCustomError("duration", f"a duration of at most {limit}")
        return seconds

    return BeforeValidator(check)


DURATION_SCHEMA = WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN})


def _parse_size(value: Any) -> int:
    try:
        size = parse_size(value)
    except (ValueError, TypeError):
        raise PydanticCustomError("size", SIZE_FORM) from None
    if size <= 0:
        raise PydanticCustomError("size", f"{SIZE_FORM}, greater than zero")
    return size


Size = Annotated[
    int,
    BeforeValidator(_parse_size),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": SIZE_PATTERN}, {"type": "integer"}]}),
]
"""Bytes, written as ``64MiB``/``512KiB`` (a bare integer means bytes)."""

Delay = Annotated[float, duration_validator(allow_zero=True), DURATION_SCHEMA]
"""Seconds, zero allowed, at most a day."""
Percentage = Annotated[float, Field(ge=0, le=100)]
Probability = Annotated[float, Field(ge=0, le=1)]

SIGNALS = tuple(sorted(s.name for s in signal.Signals if not s.name.startswith("SIGRT")))


def _check_signal(value: Any) -> str:
    text = str(value).upper() if isinstance(value, str) else value
    if isinstance(text, str) and not text.startswith("SIG"):
        text = f"SIG{text}"
    if text not in SIGNALS:
        raise PydanticCustomError("signal", "a signal name such as SIGKILL, SIGTERM or SIGINT")
    return str(text)


SignalName = Annotated[
    str, BeforeValidator(_check_signal), WithJsonSchema({"type": "string", "enum": list(SIGNALS)})
]


def _check_path(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise PydanticCustomError("path", "a URL path starting with /, such as /orders")
    return value


UrlPath = Annotated[str, BeforeValidator(_check_path)]


class FaultParams(BaseModel):
    """Base of every fault's parameters (frozen, unknown keys refused)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def agent_attributes(self) -> dict[str, Any]:
        """Attributes of the agent's fault request (numbers, milliseconds); none by default."""
        return {}


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


class NoParams(FaultParams):
    """The fault takes no parameters."""


class BlackholeParams(FaultParams):
    """No parameters; the agent blackholes the link (``timeout`` with no close)."""

    def agent_attributes(self) -> dict[str, Any]:
        return {"timeout_ms": 0.0}


class DropParams(FaultParams):
    """No parameters; the agent resets every connection of the link at once."""

    def agent_attributes(self) -> dict[str, Any]:
        return {"timeout_ms": 0.0}


class LatencyParams(FaultParams):
    latency: Delay = Field(description="delay added to every chunk, e.g. 200ms")
    jitter: Delay = Field(default=0.0, description="random ± variation, e.g. 20ms")

    def agent_attributes(self) -> dict[str, Any]:
        return {"latency_ms": _ms(self.latency), "jitter_ms": _ms(self.jitter)}


class LossParams(FaultParams):
    probability: Probability = Field(description="share of chunks dropped, 0 to 1")

    def agent_attributes(self) -> dict[str, Any]:
        return {"probability": self.probability}


class BandwidthParams(FaultParams):
    rate: Size = Field(description="bytes per second, e.g. 1MiB")

    def agent_attributes(self) -> dict[str, Any]:
        return {"rate_kbps": max(1, self.rate // 1000)}


class ResetParams(FaultParams):
    timeout: Delay = Field(default=0.0, description="reset connections after this long")

    def agent_attributes(self) -> dict[str, Any]:
        return {"timeout_ms": _ms(self.timeout)}


class TimeoutParams(FaultParams):
    timeout: Delay = Field(default=0.0, description="close after this long (0s: never)")

    def agent_attributes(self) -> dict[str, Any]:
        return {"timeout_ms": _ms(self.timeout)}


class DelayParams(FaultParams):
    delay: Delay = Field(description="how long, e.g. 500ms")

    def agent_attributes(self) -> dict[str, Any]:
        return {"delay_ms": _ms(self.delay)}


class SlicerParams(FaultParams):
    average_size: Size = Field(description="average chunk size, e.g. 64B")
    size_variation: int = Field(default=0, ge=0, description="± bytes around the average")
    delay: Delay = Field(default=0.0, description="pause between slices, e.g. 1ms")

    def agent_attributes(self) -> dict[str, Any]:
        return {
            "average_size": self.average_size,
            "size_variation": self.size_variation,
            "delay_us": round(self.delay * 1e6),
        }


class KillParams(FaultParams):
    signal: SignalName = Field(default="SIGKILL", description="signal sent, e.g. SIGKILL")

    def agent_attributes(self) -> dict[str, Any]:
        return {"signal": self.signal}


class CpuParams(FaultParams):
    workers: int = Field(default=1, ge=1, le=1024, description="busy workers (≤ cores)")
    load: Percentage = Field(default=100, gt=0, description="load per worker, 1–100 %")

    def agent_attributes(self) -> dict[str, Any]:
        return {"workers": self.workers, "load": self.load}


class MemoryParams(FaultParams):
    bytes: Size = Field(description="memory held, e.g. 64MiB")

    def agent_attributes(self) -> dict[str, Any]:
        return {"bytes": self.bytes}


class DiskParams(FaultParams):
    directory: str = Field(min_length=1, description="directory to fill")
    bytes: Size = Field(description="bytes written, e.g. 64MiB")

    def agent_attributes(self) -> dict[str, Any]:
        return {"directory": self.directory, "bytes": self.bytes}


class HttpMatch(FaultParams):
    percentage: Percentage = Field(default=100, description="share of requests affected")
    method: str | None = Field(default=None, description="only this HTTP method")
    path: UrlPath | None = Field(default=None, description="only paths with this prefix")

    def _match(self) -> dict[str, Any]:
        match: dict[str, Any] = {"percentage": self.percentage}
        if self.method:
            match["method"] = self.method.upper()
        if self.path:
            match["path"] = self.path
        return match


class HttpAbortParams(HttpMatch):
    status: int = Field(default=503, ge=100, le=599, description="status answered")

    def agent_attributes(self) -> dict[str, Any]:
        return {"status": self.status, **self._match()}


class HttpDelayParams(HttpMatch):
    delay: Delay = Field(description="delay before the request is forwarded, e.g. 2s")

    def agent_attributes(self) -> dict[str, Any]:
        return {"delay_ms": _ms(self.delay), **self._match()}


class CapacityParams(FaultParams):
    limit: int = Field(default=0, ge=0, description="most replicas that may run")


@dataclass(frozen=True)
class FaultKind:
    """One entry of the vocabulary."""

    name: str
    target_kinds: frozenset[TargetKind]
    params: type[FaultParams]
    description: str
    agent_kind: str | None = None
    """The local agent's fault kind carrying this fault out, or None (another mechanism)."""


_L, _S, _P, _D, _H = (
    TargetKind.LINK,
    TargetKind.SERVICE,
    TargetKind.PROCESS,
    TargetKind.DATABASE,
    TargetKind.HOST,
)


def _kind(
    name: str,
    targets: set[TargetKind],
    params: type[FaultParams],
    description: str,
    agent_kind: str | None = None,
) -> FaultKind:
    return FaultKind(name, frozenset(targets), params, description, agent_kind)


FAULTS: dict[str, FaultKind] = {
    k.name: k
    for k in (
        _kind("network.latency", {_L, _S}, LatencyParams, "delay every chunk", "latency"),
        _kind("network.loss", {_L, _S}, LossParams, "drop a share of chunks", "loss"),
        _kind("network.partition", {_L, _S}, BlackholeParams, "blackhole all traffic", "timeout"),
        _kind("network.bandwidth", {_L, _S}, BandwidthParams, "cap throughput", "bandwidth"),
        _kind("network.reset", {_L}, ResetParams, "reset connections (RST)", "reset"),
        _kind("network.slow-close", {_L}, DelayParams, "delay closing", "slow_close"),
        _kind("network.slicer", {_L}, SlicerParams, "slice data into small chunks", "slicer"),
        _kind("network.slow-open", {_L}, DelayParams, "delay connecting upstream", "slow_open"),
        _kind("network.timeout", {_L}, TimeoutParams, "blackhole, then close", "timeout"),
        _kind("network.down", {_L}, NoParams, "reset every connection at once", "down"),
        _kind("process.kill", {_S, _P}, KillParams, "send a signal (SIGKILL)", "kill"),
        _kind("process.pause", {_S, _P}, NoParams, "SIGSTOP, SIGCONT at revert", "pause"),
        _kind("process.restart", {_S, _P}, NoParams, "terminate and start again", "restart"),
        _kind("resource.cpu", {_H, _S}, CpuParams, "burn CPU", "cpu"),
        _kind("resource.memory", {_H, _S}, MemoryParams, "hold memory", "memory"),
        _kind("resource.disk", {_H}, DiskParams, "fill a directory", "disk"),
        _kind("http.abort", {_L, _S}, HttpAbortParams, "answer an HTTP error", "http_abort"),
        _kind("http.delay", {_L, _S}, HttpDelayParams, "delay HTTP requests", "http_delay"),
        _kind("db.connection-drop", {_L, _D}, DropParams, "drop every open connection", "reset"),
        _kind("db.failover", {_D}, NoParams, "fail the primary over to the replica"),
        _kind("dependency.outage", {_L, _S}, NoParams, "make a dependency unreachable", "down"),
        _kind("lb.health-check-fail", {_S}, NoParams, "fail the load balancer health checks"),
        _kind("scaling.capacity-limit", {_S}, CapacityParams, "cap the replicas that may run"),
    )
}
"""Every fault, by name. Local-only link toxics: slicer, slow-open, timeout, down."""


def closest_faults(name: str) -> list[str]:
    """Every known fault name, the closest to ``name`` first."""

    def score(candidate: str) -> float:
        return difflib.SequenceMatcher(None, name, candidate).ratio()

    return sorted(FAULTS, key=lambda candidate: (-score(candidate), candidate))


def unknown_fault_message(name: str) -> str:
    """What to write instead of an unknown fault name (closest first)."""
    return "a fault of the vocabulary: " + ", ".join(closest_faults(name))


def fault_kind(name: str) -> FaultKind:
    """The vocabulary entry for ``name``; ``KeyError`` naming the known faults otherwise."""
    try:
        return FAULTS[name]
    except KeyError:
        raise KeyError(f"unknown fault {name!r}; expected {unknown_fault_message(name)}") from None

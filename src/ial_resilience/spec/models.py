"""Frozen models of an experiment file (YAML keys in parentheses where they differ).

An :class:`Experiment` names its ``targets``, the ``steady_state`` checks that must hold before
and after, the ``method`` (fault steps, each with a ``duration`` and an optional ``after``
offset), ``probes`` sampled while faults are active, ``guardrails`` that abort the run and the
``recovery`` budget. Durations are seconds (float); tolerances are :class:`Comparison` maps.
Load files with :func:`ial_resilience.spec.load_experiment`, which reports every problem with
its line and column.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Union

from pydantic import ConfigDict, Discriminator, Field, Tag, create_model, model_validator
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from ial_resilience.faults.vocabulary import FAULTS, FaultParams, TargetKind
from ial_resilience.spec.fields import (
    AddressField,
    Argv,
    Budget,
    FaultDuration,
    HttpUrl,
    Interval,
    Offset,
    SpecModel,
    Timeout,
)
from ial_resilience.spec.tolerance import Tolerance

__all__ = [
    "CommandProbe",
    "Direction",
    "Experiment",
    "FaultStep",
    "Guardrail",
    "HttpMethod",
    "HttpProbe",
    "MetricProbe",
    "ProbeCheck",
    "ProbeKind",
    "ProbeSpec",
    "ProcessProbe",
    "Recovery",
    "SqlProbe",
    "Target",
    "TargetKind",
    "TcpProbe",
    "exactly_one",
    "fault_union",
]


class ProbeKind(StrEnum):
    HTTP = "http"
    TCP = "tcp"
    SQL = "sql"
    PROCESS = "process"
    METRIC = "metric"
    COMMAND = "command"


class HttpMethod(StrEnum):
    GET = "GET"
    HEAD = "HEAD"
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"
    OPTIONS = "OPTIONS"


class Direction(StrEnum):
    """Which bytes of a link a fault affects: client→server, server→client or both."""

    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"
    BOTH = "both"


def exactly_one(model: SpecModel, keys: tuple[str, ...], what: str) -> str:
    present = [key for key in keys if getattr(model, key) is not None]
    if len(present) != 1:
        found = " and ".join(present) if present else "none"
        raise PydanticCustomError(
            "exactly_one", f"exactly one of {', '.join(keys)} for {what}", {"found": found}
        )
    return present[0]


# --- probes ----------------------------------------------------------------------------------


def _status_codes(value: Any) -> Any:
    return [value] if isinstance(value, int) and not isinstance(value, bool) else value


class HttpProbe(SpecModel):
    """One HTTP request; ok when the status is expected (default: any 2xx or 3xx)."""

    url: HttpUrl = Field(description="http(s) URL with a host")
    method: HttpMethod = HttpMethod.GET
    timeout: Timeout = 2.0
    expect_status: tuple[Annotated[int, Field(ge=100, le=599)], ...] = Field(
        default=(), description="expected status codes; empty: any 2xx or 3xx"
    )
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_status(cls, data: Any) -> Any:
        if isinstance(data, dict) and "expect_status" in data:
            return {**data, "expect_status": _status_codes(data["expect_status"])}
        return data

    def status_ok(self, status: int) -> bool:
        if self.expect_status:
            return status in self.expect_status
        return 200 <= status < 400


class TcpProbe(SpecModel):
    """A TCP connect; ok when it is accepted within the timeout."""

    address: AddressField = Field(description="host:port")
    timeout: Timeout = 2.0


class SqlProbe(SpecModel):
    """A PostgreSQL query; value = first column of the first row when numeric."""

    dsn: str = Field(min_length=1, description="libpq connection string or URL")
    query: str = Field(default="SELECT 1", min_length=1)
    timeout: Timeout = 2.0


class ProcessProbe(SpecModel):
    """Whether a process is alive: by ``name``, ``pid`` or ``match`` (regex on the cmdline)."""

    name: str | None = None
    pid: int | None = Field(default=None, gt=0)
    match: str | None = None
    min_count: int = Field(default=1, ge=0)

    @model_validator(mode="after")
    def _one_selector(self) -> ProcessProbe:
        exactly_one(self, ("name", "pid", "match"), "a process probe")
        return self


class MetricProbe(SpecModel):
    """One sample of a Prometheus text endpoint; value = the sample's value."""

    url: HttpUrl
    metric: str = Field(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$", description="metric name")
    labels: dict[str, str] = Field(default_factory=dict)
    timeout: Timeout = 2.0


class CommandProbe(SpecModel):
    """A program run without a shell; value = its exit code, ok when it is ``expect_exit``."""

    argv: Argv = Field(description="list of strings, or one string split like a shell")
    timeout: Timeout = 5.0
    expect_exit: int = 0


ProbeConfig = HttpProbe | TcpProbe | SqlProbe | ProcessProbe | MetricProbe | CommandProbe


class ProbeSpec(SpecModel):
    """Exactly one probe kind, written as its key: ``{http: {url: …}}``; ``name`` optional."""

    KINDS: ClassVar[tuple[str, ...]] = tuple(kind.value for kind in ProbeKind)

    name: str = Field(default="", description="label in the journal; derived when empty")
    http: HttpProbe | None = None
    tcp: TcpProbe | None = None
    sql: SqlProbe | None = None
    process: ProcessProbe | None = None
    metric: MetricProbe | None = None
    command: CommandProbe | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ProbeSpec:
        exactly_one(self, self.KINDS, "a probe")
        return self

    @property
    def kind(self) -> ProbeKind:
        return next(ProbeKind(k) for k in self.KINDS if getattr(self, k) is not None)

    @property
    def config(self) -> ProbeConfig:
        config: ProbeConfig = getattr(self, self.kind.value)
        return config

    @property
    def label(self) -> str:
        """``name`` if given, else a description such as ``http GET http://…/health``."""
        if self.name:
            return self.name
        config = self.config
        if isinstance(config, HttpProbe):
            return f"http {config.method} {config.url}"
        if isinstance(config, TcpProbe):
            return f"tcp {config.address}"
        if isinstance(config, SqlProbe):
            return f"sql {config.query}"
        if isinstance(config, ProcessProbe):
            return f"process {config.name or config.pid or config.match}"
        if isinstance(config, MetricProbe):
            return f"metric {config.metric}"
        return f"command {' '.join(config.argv)}"


# --- checks ----------------------------------------------------------------------------------


class ProbeCheck(SpecModel):
    """A probe sampled ``samples`` times, ``every`` apart; ``tolerance`` must hold."""

    probe: ProbeSpec
    samples: int = Field(default=10, ge=1, le=100_000)
    every: Interval = 0.1
    tolerance: Tolerance = Field(default_factory=dict)


class Guardrail(SpecModel):
    """Evaluated continuously while faults are active over the last ``window``; breach aborts."""

    probe: ProbeSpec
    every: Interval = 0.25
    window: Interval = 2.0
    tolerance: Tolerance = Field(min_length=1)
    min_samples: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _window_holds_min_samples(self) -> Guardrail:
        if self.window + 1e-9 < self.every * self.min_samples:
            found = (
                f"a {self.window:g}s window, which holds fewer than min_samples "
                f"({self.min_samples}) samples taken every {self.every:g}s"
            )
            raise PydanticCustomError(
                "guardrail", "a window of at least every × min_samples", {"found": found}
            )
        return self


class Recovery(SpecModel):
    """After revert, sample until the steady state holds again, within ``within``."""

    within: Budget = 60.0
    every: Interval = 0.25


# --- targets and faults ----------------------------------------------------------------------


class Target(SpecModel):
    """Exactly one of ``link``, ``service``, ``process``, ``database``, ``host``.

    A ``service`` may narrow the blast radius with ``replicas`` (a count) or ``share`` (0–1).
    """

    KINDS: ClassVar[tuple[str, ...]] = tuple(kind.value for kind in TargetKind)

    link: str | None = Field(default=None, description="a link name, such as api->db")
    service: str | None = None
    process: str | None = None
    database: str | None = None
    host: str | None = Field(default=None, description="local")
    replicas: int | None = Field(default=None, ge=1)
    share: float | None = Field(default=None, gt=0, le=1)

    @model_validator(mode="after")
    def _one_kind(self) -> Target:
        kind = exactly_one(self, self.KINDS, "a target")
        if (self.replicas is not None or self.share is not None) and kind != "service":
            raise PydanticCustomError("target", "replicas and share only on a service target")
        if self.replicas is not None and self.share is not None:
            raise PydanticCustomError("target", "either replicas or share, not both")
        return self

    @property
    def kind(self) -> TargetKind:
        return next(TargetKind(k) for k in self.KINDS if getattr(self, k) is not None)

    @property
    def name(self) -> str:
        """What the target names: the link, service, process, database or host."""
        value: str = getattr(self, self.kind.value)
        return value


class FaultStep(SpecModel):
    """One fault of the method. ``params`` (YAML ``with``) is the fault's parameter model.

    The step starts ``after`` seconds into the method and lasts ``duration`` seconds, so steps
    may overlap or chain.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    FAULT_FIELD: ClassVar[str] = "fault"
    FAULT_NAME: ClassVar[str] = ""

    fault: str = Field(description="a fault of the vocabulary, such as network.latency")
    target: str = Field(description="a key of targets")
    params: FaultParams = Field(default_factory=FaultParams, alias="with")
    duration: FaultDuration = Field(description="how long the fault stays applied, e.g. 30s")
    after: Offset = Field(default=0.0, description="start offset into the method, e.g. 10s")
    direction: Direction = Direction.BOTH
    toxicity: float = Field(default=1.0, ge=0, le=1, description="share of connections hit")

    @property
    def end(self) -> float:
        return self.after + self.duration


def _fault_of(value: Any, field: str) -> Any:
    if isinstance(value, dict):
        return value.get(field)
    return getattr(value, field, None)


def fault_union(base: type[SpecModel], field: str, params_alias: str) -> Any:
    """A union of ``base`` subclasses, one per fault of the vocabulary, chosen by ``field``.

    Each member types its params field (YAML key ``params_alias``) with that fault's model,
    so a bad parameter is reported at its own key.
    """
    members = []
    for name, kind in FAULTS.items():
        required = any(f.is_required() for f in kind.params.model_fields.values())
        params_field = (
            Field(alias=params_alias)
            if required
            else Field(alias=params_alias, default_factory=kind.params)
        )
        member = create_model(
            f"{base.__name__}_{name.replace('.', '_').replace('-', '_')}",
            __base__=base,
            __doc__=f"{name}: {kind.description}",
            **{field: (Literal[name], ...), "params": (kind.params, params_field)},  # type: ignore[call-overload]
        )
        member.FAULT_NAME = name
        members.append(Annotated[member, Tag(name)])
    return Annotated[Union[tuple(members)], Discriminator(lambda v: _fault_of(v, field))]  # noqa: UP007


if TYPE_CHECKING:
    AnyFaultStep = FaultStep
else:
    AnyFaultStep = fault_union(FaultStep, "fault", "with")


# --- the experiment --------------------------------------------------------------------------


class Experiment(SpecModel):
    """One experiment file. ``source`` is the file it was loaded from (not a YAML key)."""

    version: Literal[1] = Field(description="file format version; 1")
    title: str = Field(min_length=1)
    description: str = ""
    environment: str = Field(default="local", min_length=1, description="checked by safety")
    tags: tuple[str, ...] = ()
    targets: dict[str, Target]
    steady_state: tuple[ProbeCheck, ...]
    method: tuple[AnyFaultStep, ...]
    probes: tuple[ProbeCheck, ...] = ()
    guardrails: tuple[Guardrail, ...] = ()
    recovery: Recovery = Field(default_factory=Recovery)
    source: SkipJsonSchema[str] = Field(default="", validation_alias="__source__")

    @property
    def method_duration(self) -> float:
        """Seconds from the first fault applied to the last one reverted."""
        return max(step.end for step in self.method)

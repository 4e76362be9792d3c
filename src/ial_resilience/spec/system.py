"""System files: what is under test locally — links the agent proxies, processes, declared faults.

```yaml
version: 1
name: shop
vars: {lb: "http://127.0.0.1:8080"}
links:
  api->db: {listen: "127.0.0.1:15432", upstream: "127.0.0.1:5432", http: false}
processes:
  api: {command: [python, -m, http.server, "8081"], replicas: 1, health: "http://127.0.0.1:8081/"}
faults:
  - {kind: network.latency, target: {link: api->db}, params: {latency: 200ms}, duration: 60s}
```

A declared fault has the shape of the agent's ``FaultRequest`` (docs/INTERFACES.md §2) with a
fault of the vocabulary and durations as text; :meth:`SystemFault.to_request` gives the
request. Experiments see the system's ``vars`` and ``${links.NAME}`` (a link's listen address).
The lab (issue 3) extends this model; new sections are new optional keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from ial_resilience.faults.vocabulary import FAULTS, FaultParams, TargetKind
from ial_resilience.spec.fields import (
    AddressField,
    Argv,
    FaultDuration,
    HttpUrl,
    ListenAddress,
    SpecModel,
    Text,
)
from ial_resilience.spec.models import Direction, exactly_one, fault_union


class LinkSpec(SpecModel):
    """A TCP path the agent proxies: clients connect to ``listen``, bytes go to ``upstream``."""

    listen: ListenAddress = Field(description="host:port the agent listens on (port 0: any)")
    upstream: AddressField = Field(description="host:port of the real service")
    http: bool = Field(default=False, description="HTTP-aware (http.abort, http.delay)")


class ProcessSpec(SpecModel):
    """A process the agent starts (``command``) and may kill, pause or restart."""

    command: Argv = Field(description="list of strings, or one string split like a shell")
    env: dict[str, Text] = Field(default_factory=dict)
    cwd: str | None = None
    replicas: int = Field(default=1, ge=1, le=64)
    health: HttpUrl | None = None
    ports: tuple[Annotated[int, Field(ge=1, le=65535)], ...] = ()
    # used by `ialr lab up` (issue 3); the agent's --system ignores them
    health_tcp: AddressField | None = Field(
        default=None, description="healthy once this host:port accepts a TCP connection"
    )
    after: tuple[str, ...] = Field(
        default=(), description="processes that must be healthy before this one starts"
    )
    managed: bool = Field(
        default=False,
        description="replicas are started by the lab's control plane (behind the LB), not by"
        " `lab up` itself",
    )
    min_replicas: int | None = Field(default=None, ge=1, le=64)
    max_replicas: int | None = Field(default=None, ge=1, le=64)


class FaultTargetRef(SpecModel):
    """Exactly one of ``link: NAME``, ``process: NAME``, ``host: true``."""

    KINDS: ClassVar[tuple[str, ...]] = ("link", "process", "host")

    link: str | None = None
    process: str | None = None
    host: Literal[True] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> FaultTargetRef:
        exactly_one(self, self.KINDS, "a fault target")
        return self

    @property
    def kind(self) -> TargetKind:
        return next(TargetKind(k) for k in self.KINDS if getattr(self, k) is not None)

    def to_request(self) -> dict[str, Any]:
        if self.link is not None:
            return {"link": self.link}
        if self.process is not None:
            return {"process": self.process}
        return {"host": True}


class SystemFault(SpecModel):
    """A fault declared in the system file, applied by the agent when it starts."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    FAULT_FIELD: ClassVar[str] = "kind"
    FAULT_NAME: ClassVar[str] = ""

    id: str | None = None
    kind: str = Field(description="a fault of the vocabulary carried out by the agent")
    target: FaultTargetRef
    params: FaultParams = Field(default_factory=FaultParams)
    duration: FaultDuration = Field(description="how long the fault stays applied, e.g. 60s")
    direction: Direction = Direction.BOTH
    toxicity: float = Field(default=1.0, ge=0, le=1)
    label: str | None = None

    def to_request(self) -> dict[str, Any]:
        """The agent's ``FaultRequest`` (docs/INTERFACES.md §2) for this fault."""
        request: dict[str, Any] = {
            "kind": FAULTS[self.kind].agent_kind,
            "target": self.target.to_request(),
            "params": self.params.agent_attributes(),
            "direction": self.direction.value,
            "toxicity": self.toxicity,
            "duration_ms": round(self.duration * 1000),
        }
        if self.id is not None:
            request["id"] = self.id
        if self.label is not None:
            request["label"] = self.label
        return request


if TYPE_CHECKING:
    AnySystemFault = SystemFault
else:
    AnySystemFault = fault_union(SystemFault, "kind", "params")


class System(SpecModel):
    """One system file. ``source`` is the file it was loaded from (not a YAML key)."""

    version: Literal[1] = Field(description="file format version; 1")
    name: str = Field(min_length=1)
    vars: dict[str, Text] = Field(default_factory=dict)
    links: dict[str, LinkSpec] = Field(default_factory=dict)
    processes: dict[str, ProcessSpec] = Field(default_factory=dict)
    faults: tuple[AnySystemFault, ...] = ()
    ports: dict[str, Annotated[int, Field(ge=0, le=65535)]] = Field(
        default_factory=dict,
        description="named ports for `ialr lab up`; 0 = a free port, visible as ${ports.NAME}",
    )
    exports: dict[str, Text] = Field(
        default_factory=dict,
        description="addresses `ialr lab up` prints and gives experiments as variables",
    )
    source: SkipJsonSchema[str] = Field(default="", validation_alias="__source__")

    def variables(self) -> dict[str, str]:
        """``vars`` plus ``links.NAME`` → listen address, for links with a fixed port."""
        links = {
            f"links.{name}": str(link.listen)
            for name, link in self.links.items()
            if link.listen.port != 0
        }
        return {**links, **self.vars}

"""What the lab runtime reports: the running lab (``LabInfo``, kept in ``lab.json``), part states
and the lab's errors."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ial_resilience.errors import InputError, ProviderError

LAB_FILE = "lab.json"


class LabAlreadyRunning(InputError):
    """``lab up`` when a lab already runs for the state dir."""


class LabNotRunning(InputError):
    """``lab status|logs|down`` with no lab running for the state dir."""


class LabStartFailed(ProviderError):
    """A part did not start or never became healthy; nothing was left running."""


class PartState(StrEnum):
    WAITING = "waiting"  # for the parts in its `after`
    STARTING = "starting"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    DEAD = "dead"


@dataclass(frozen=True)
class PartInfo:
    """One part: a process the lab started (or the control plane's replicas)."""

    name: str
    pid: int
    health: str  # the URL or tcp://address checked, "" when only liveness counts
    managed: bool = False


@dataclass(frozen=True)
class LabInfo:
    """A running lab: where everything answers. ``variables()`` feeds experiments."""

    name: str
    system: str
    state_dir: str
    agent_url: str
    agent_pid: int
    agent_started: bool
    exports: dict[str, str]
    links: dict[str, dict[str, Any]]
    parts: dict[str, PartInfo]
    started_at: float
    up_seconds: float
    link_names: tuple[str, ...] = field(default=())

    def variables(self) -> dict[str, str]:
        """``exports`` plus ``links.NAME`` → listen address (``${lb}``, ``${db_dsn}`` …)."""
        links = {f"links.{name}": str(link["listen"]) for name, link in self.links.items()}
        return {**links, **self.exports}

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["link_names"] = list(self.link_names)
        data["variables"] = self.variables()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabInfo:
        fields = {k: v for k, v in data.items() if k != "variables"}
        fields["parts"] = {k: PartInfo(**v) for k, v in data["parts"].items()}
        fields["link_names"] = tuple(data.get("link_names", ()))
        return cls(**fields)

    def write(self, state_dir: Path) -> None:
        path = state_dir / LAB_FILE
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.to_json(), indent=2), encoding="utf-8")
        temporary.replace(path)


def read_lab_info(state_dir: Path) -> LabInfo | None:
    """The recorded lab of ``state_dir``, or None (no file, or not readable)."""
    try:
        return LabInfo.from_json(json.loads((state_dir / LAB_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None

"""The fleet configuration the lab hands to its control plane (``fleet.json``)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class FleetConfig:
    """The managed service (API replicas) and the database endpoint."""

    service: str
    command: tuple[str, ...]  # ${port} and ${name} are filled per replica
    env: dict[str, str] = field(default_factory=dict)
    min_replicas: int = 2
    max_replicas: int = 4
    target_rps: float = 20.0  # autoscaler: requests/s per replica it aims at
    db_link: str = "api->db"
    db_primary: str = ""  # process name
    db_primary_address: str = ""
    db_replica: str = ""
    db_replica_address: str = ""

    def argv(self, name: str, port: int) -> list[str]:
        return [
            part.replace("${port}", str(port)).replace("${name}", name) for part in self.command
        ]

    def replica_env(self, name: str, port: int) -> dict[str, str]:
        filled = {
            k: v.replace("${port}", str(port)).replace("${name}", name) for k, v in self.env.items()
        }
        return {**filled, "IALR_REPLICA": name}

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> FleetConfig:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        data["command"] = tuple(data["command"])
        return cls(**data)

"""What one history record is (docs/INTERFACES.md §8): a run, game day, alert-accuracy run,
recovery drill, backup or rollout, with the figures the analysis reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

Figure = float | int | bool | None


class RecordKind(StrEnum):
    CHAOS_RUN = "chaos_run"
    GAMEDAY = "gameday"
    ALERT_ACCURACY = "alert_accuracy"
    RECOVERY_DRILL = "recovery_drill"
    BACKUP = "backup"
    ROLLOUT = "rollout"


@dataclass(frozen=True)
class Record:
    id: str
    kind: RecordKind
    key: str
    title: str
    status: str
    started_at: float
    ended_at: float | None = None
    environment: str = "local"
    provider: str = "local"
    parent_id: str | None = None
    source: str | None = None
    tags: tuple[str, ...] = ()
    figures: dict[str, Figure] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)

    def figure(self, name: str) -> float | None:
        """A numeric figure (bools as 0/1), None when absent or not a number."""
        value = self.figures.get(name)
        return None if value is None or not isinstance(value, int | float) else float(value)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "key": self.key,
            "title": self.title,
            "status": self.status,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "environment": self.environment,
            "provider": self.provider,
            "parent_id": self.parent_id,
            "source": self.source,
            "tags": list(self.tags),
            "figures": dict(self.figures),
            "data": dict(self.data),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Record:
        return cls(
            id=str(raw["id"]),
            kind=RecordKind(raw["kind"]),
            key=str(raw["key"]),
            title=str(raw.get("title", "")),
            status=str(raw["status"]),
            started_at=float(raw["started_at"]),
            ended_at=None if raw.get("ended_at") is None else float(raw["ended_at"]),
            environment=str(raw.get("environment") or "local"),
            provider=str(raw.get("provider") or "local"),
            parent_id=raw.get("parent_id"),
            source=raw.get("source"),
            tags=tuple(raw.get("tags") or ()),
            figures=dict(raw.get("figures") or {}),
            data=dict(raw.get("data") or {}),
        )

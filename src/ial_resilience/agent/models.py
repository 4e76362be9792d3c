"""The agent's request bodies as frozen typed models (parsed once, at the API boundary)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

MAX_DURATION_MS = 24 * 3600 * 1000
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
LINK_NAME_PATTERN = r"^[^/\s]{1,100}$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FaultState(StrEnum):
    ACTIVE = "active"
    REVERTED = "reverted"
    EXPIRED = "expired"
    FAILED = "failed"


class LinkTarget(_Frozen):
    link: str = Field(min_length=1)


class ProcessTarget(_Frozen):
    process: str = Field(min_length=1)


class HostTarget(_Frozen):
    host: Literal[True]


Target = LinkTarget | ProcessTarget | HostTarget


class FaultRequest(_Frozen):
    """One fault to apply. ``duration_ms`` is required: every fault expires."""

    id: str | None = Field(default=None, pattern=ID_PATTERN)
    kind: str = Field(min_length=1, max_length=64)
    target: Target
    params: dict[str, Any] = Field(default_factory=dict)
    direction: Literal["upstream", "downstream", "both"] = "both"
    toxicity: float = Field(default=1.0, ge=0.0, le=1.0)
    duration_ms: StrictInt = Field(gt=0, le=MAX_DURATION_MS)
    label: str | None = Field(default=None, max_length=200)

    def target_json(self) -> dict[str, Any]:
        return self.target.model_dump()


class FaultSet(_Frozen):
    faults: list[FaultRequest] = Field(min_length=1, max_length=100)


class LinkRequest(_Frozen):
    name: str = Field(pattern=LINK_NAME_PATTERN)
    listen: str = "127.0.0.1:0"
    upstream: str = Field(min_length=3)
    http: StrictBool = False


class SpawnRequest(_Frozen):
    name: str = Field(min_length=1, max_length=64)
    argv: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None


class AdoptRequest(_Frozen):
    name: str = Field(min_length=1, max_length=64)
    pid: StrictInt

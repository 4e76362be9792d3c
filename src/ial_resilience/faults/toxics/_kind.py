"""The base of every toxic kind: attribute schema plus the hooks a connection calls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ial_resilience.faults.toxics._evidence import Evidence
from ial_resilience.faults.toxics._spec import Attr, Direction
from ial_resilience.faults.toxics._stage import Control, Stage


class ToxicKind:
    """One kind of toxic. Subclasses declare ``name`` and ``attributes`` and override hooks.

    A connection meets a toxic once; when the toxicity roll says it is affected, the connection
    calls :meth:`on_meet`, asks for one :meth:`stage` per direction the toxic covers, and asks
    :meth:`open_delay` / :meth:`close_delay` at dial and at end of stream.
    """

    name: ClassVar[str]
    attributes: ClassVar[Mapping[str, Attr]] = {}
    http_only: ClassVar[bool] = False

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values

    def number(self, key: str) -> float:
        value = self.values[key]
        assert isinstance(value, float)
        return value

    def text(self, key: str) -> str | None:
        value = self.values.get(key)
        return value if isinstance(value, str) else None

    def stage(self, evidence: Evidence, control: Control, flow: Direction) -> Stage | None:
        """The stage for one direction of an affected connection, or None if it needs none."""
        return None

    def on_meet(self, evidence: Evidence, control: Control) -> None:
        """Called once when an affected connection meets this toxic."""

    def open_delay(self) -> float:
        """Seconds to wait before dialing the upstream."""
        return 0.0

    def close_delay(self) -> float:
        """Seconds to wait before passing an end of stream on."""
        return 0.0

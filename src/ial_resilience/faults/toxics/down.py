"""``down``: the link is down; existing connections are reset and new ones reset at once."""

from __future__ import annotations

from ial_resilience.faults.toxics._evidence import Evidence
from ial_resilience.faults.toxics._kind import ToxicKind
from ial_resilience.faults.toxics._stage import Control
from ial_resilience.faults.toxics.reset import reset_now


class Down(ToxicKind):
    name = "down"

    def on_meet(self, evidence: Evidence, control: Control) -> None:
        reset_now(evidence, control)

"""``reset``: reset (RST) every affected connection ``timeout_ms`` after it meets the toxic."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from ial_resilience.faults.toxics._evidence import Evidence
from ial_resilience.faults.toxics._kind import ToxicKind
from ial_resilience.faults.toxics._spec import Attr
from ial_resilience.faults.toxics._stage import Control


def reset_now(evidence: Evidence, control: Control) -> None:
    evidence.add(resets=1)
    control.reset()


class Reset(ToxicKind):
    name = "reset"
    attributes: ClassVar[Mapping[str, Attr]] = {
        "timeout_ms": Attr("a number of milliseconds >= 0", default=0.0, minimum=0)
    }

    def on_meet(self, evidence: Evidence, control: Control) -> None:
        delay = self.number("timeout_ms") / 1000.0
        if delay <= 0:
            reset_now(evidence, control)
        else:
            control.after(delay, lambda: reset_now(evidence, control))

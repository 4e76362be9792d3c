"""``slow_open``: wait ``delay_ms`` before dialing the upstream for each new connection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from ial_resilience.faults.toxics._kind import ToxicKind
from ial_resilience.faults.toxics._spec import Attr


class SlowOpen(ToxicKind):
    name = "slow_open"
    attributes: ClassVar[Mapping[str, Attr]] = {
        "delay_ms": Attr("a number of milliseconds >= 0", default=0.0, minimum=0)
    }

    def open_delay(self) -> float:
        return self.number("delay_ms") / 1000.0

"""What the fault registry asks of every fault: apply, evidence so far, revert.

An injector is built (and validated: params, target, bounds) before anything is applied, so a
set of faults can be refused as a whole. ``apply`` does the harm; ``revert`` undoes it and
returns the final evidence; ``evidence`` reads what happened so far. Evidence always carries
``landed``: true when the fault had an observable effect.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Protocol


class Mechanism(StrEnum):
    PROXY = "proxy"
    IPTABLES = "iptables"
    SIGNAL = "signal"
    STRESS = "stress"


class Injector(Protocol):
    @property
    def mechanism(self) -> Mechanism: ...

    def apply(self) -> None: ...

    def evidence(self) -> dict[str, Any]: ...

    def revert(self) -> dict[str, Any]: ...

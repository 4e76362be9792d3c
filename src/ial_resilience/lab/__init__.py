"""The lab: a small copy of IaL's production shape on loopback, and the runtime that starts
any system file (``ialr lab up|status|logs|down``).

    >>> from ial_resilience.lab import Lab
    >>> info = Lab(state_dir).up()          # the bundled lab/system.yaml
    >>> info.exports["lb"], info.variables()["db_dsn"]
    >>> Lab(state_dir).down()

The names below are imported on first use, so that the lab's own services (``python -m
ial_resilience.lab.api`` …) start without loading the runtime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ial_resilience.lab.model import (
        LabAlreadyRunning,
        LabInfo,
        LabNotRunning,
        LabStartFailed,
        PartInfo,
        PartState,
    )
    from ial_resilience.lab.plan import BUNDLED as BUNDLED_SYSTEM
    from ial_resilience.lab.runtime import Lab

_WHERE = {
    "Lab": ("ial_resilience.lab.runtime", "Lab"),
    "BUNDLED_SYSTEM": ("ial_resilience.lab.plan", "BUNDLED"),
    **{
        name: ("ial_resilience.lab.model", name)
        for name in ("LabAlreadyRunning", "LabInfo", "LabNotRunning", "LabStartFailed",
                     "PartInfo", "PartState")
    },
}  # fmt: skip

__all__ = [
    "BUNDLED_SYSTEM",
    "Lab",
    "LabAlreadyRunning",
    "LabInfo",
    "LabNotRunning",
    "LabStartFailed",
    "PartInfo",
    "PartState",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'ial_resilience.lab' has no attribute {name!r}")
    module, attribute = _WHERE[name]
    return getattr(importlib.import_module(module), attribute)

"""The lab: a small copy of IaL's production shape on loopback, and the runtime that starts
any system file (``ialr lab up|status|logs|down``).

    >>> from ial_resilience.lab import Lab
    >>> info = Lab(state_dir).up()          # the bundled lab/system.yaml
    >>> info.exports["lb"], info.variables()["db_dsn"]
    >>> Lab(state_dir).down()
"""

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

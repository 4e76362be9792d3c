"""The chaos engine: run lifecycle, hypothesis, guardrails, journal, fault ledger, safety.

Public API::

    from ial_resilience.engine import Run, RunOptions, RunResult, RunStatus, Provider
    result = Run(experiment, provider, RunOptions(state_dir=...)).execute()

Providers implement :class:`Provider` (``engine/provider.py``); the local one is
``engine.providers.local.LocalProvider`` and an in-process double is
``engine.providers.memory.MemoryProvider``. ``engine.cleanup.cleanup_all`` is what
``ialr chaos cleanup`` runs.
"""

from ial_resilience.engine.model import (
    AppliedFault,
    Event,
    EventKind,
    Evidence,
    Phase,
    PlannedFault,
    ResolvedTarget,
    RunStatus,
)
from ial_resilience.engine.plan import Plan
from ial_resilience.engine.provider import CleanupResult, Provider
from ial_resilience.engine.run import Observer, Run, RunOptions, RunResult

__all__ = [
    "AppliedFault",
    "CleanupResult",
    "Event",
    "EventKind",
    "Evidence",
    "Observer",
    "Phase",
    "Plan",
    "PlannedFault",
    "Provider",
    "ResolvedTarget",
    "Run",
    "RunOptions",
    "RunResult",
    "RunStatus",
]

"""A toxic applied to a link: its spec, its kind (with typed values) and its evidence."""

from __future__ import annotations

import random
import threading

from ial_resilience.faults.toxics._evidence import Evidence
from ial_resilience.faults.toxics._kind import ToxicKind
from ial_resilience.faults.toxics._spec import ToxicSpec


class ActiveToxic:
    """One toxic on one link. ``active`` turns False once, when the toxic is removed."""

    def __init__(self, spec: ToxicSpec, kind: ToxicKind) -> None:
        self.spec = spec
        self.kind = kind
        self.evidence = Evidence()
        self.active = True
        self._rng = random.Random()
        self._lock = threading.Lock()

    def roll(self) -> bool:
        """Decide whether a connection meeting this toxic is affected (its toxicity)."""
        toxicity = self.spec.toxicity
        if toxicity >= 1.0:
            hit = True
        elif toxicity <= 0.0:
            hit = False
        else:
            with self._lock:
                hit = self._rng.random() < toxicity
        self.evidence.add(connections_met=1, connections_affected=int(hit))
        return hit

"""Probe kinds: one module per kind, each a frozen config and a class with ``sample()``.

Public API::

    from ial_resilience.probes import Sample, Probe, compute_statistics
"""

from ial_resilience.probes.base import Probe, Sample
from ial_resilience.probes.stats import STATISTICS
from ial_resilience.probes.stats import compute as compute_statistics

__all__ = ["STATISTICS", "Probe", "Sample", "compute_statistics"]

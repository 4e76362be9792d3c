"""Assets of ``ialr demo``: a small orders service and two experiments against it."""

from pathlib import Path

EXPERIMENTS = Path(__file__).parent / "experiments"

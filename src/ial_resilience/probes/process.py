"""``process`` probe (psutil): ok when at least ``min_count`` matching processes are alive.

Select by ``pid``, by exact ``process_name``, or by ``match`` (a regular expression searched in
the command line). The value is the number of matching live processes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import psutil

from ial_resilience.probes.base import Outcome, Sample, measure


@dataclass(frozen=True, slots=True)
class ProcessConfig:
    pid: int | None = None
    process_name: str | None = None
    match: str | None = None
    min_count: int = 1
    name: str = ""


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class ProcessProbe:
    def __init__(self, config: ProcessConfig) -> None:
        self.config = config
        self._pattern = re.compile(config.match) if config.match else None

    @property
    def name(self) -> str:
        what = self.config.pid or self.config.process_name or self.config.match
        return self.config.name or f"process {what}"

    def _matches(self, process: psutil.Process) -> bool:
        try:
            if self.config.process_name is not None:
                return bool(process.name() == self.config.process_name)
            if self._pattern is not None:
                return bool(self._pattern.search(" ".join(process.cmdline())))
        except psutil.Error:
            return False
        return False

    def _count(self) -> int:
        if self.config.pid is not None:
            try:
                return int(_alive(psutil.Process(self.config.pid)))
            except psutil.Error:
                return 0
        return sum(1 for p in psutil.process_iter() if self._matches(p) and _alive(p))

    def _check(self) -> Outcome:
        count = self._count()
        ok = count >= self.config.min_count
        error = (
            None
            if ok
            else f"{count} matching process(es) alive, expected ≥ {self.config.min_count}"
        )
        return float(count), ok, error

    def sample(self) -> Sample:
        return measure(self._check)

    def close(self) -> None:
        """Nothing is kept open between samples."""

"""``command`` probe: runs a program (no shell) with a timeout; ok when its exit code is the
expected one. The value is the exit code."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from ial_resilience.probes.base import Outcome, Sample, describe, measure


@dataclass(frozen=True, slots=True)
class CommandConfig:
    argv: tuple[str, ...]
    timeout: float = 5.0
    expect_exit: int = 0
    name: str = ""


class CommandProbe:
    def __init__(self, config: CommandConfig) -> None:
        self.config = config

    @property
    def name(self) -> str:
        return self.config.name or f"command {' '.join(self.config.argv)}"

    def _run(self) -> Outcome:
        try:
            done = subprocess.run(
                list(self.config.argv),
                capture_output=True,
                timeout=self.config.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return None, False, f"did not finish within {self.config.timeout:g}s"
        except OSError as exc:
            return None, False, describe(exc)
        ok = done.returncode == self.config.expect_exit
        tail = done.stderr.decode(errors="replace").strip()[-200:]
        error = (
            None if ok else f"exit {done.returncode} (expected {self.config.expect_exit}) {tail}"
        )
        return float(done.returncode), ok, error

    def sample(self) -> Sample:
        return measure(self._run)

    def close(self) -> None:
        """Nothing is kept open between samples."""

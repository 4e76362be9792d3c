"""``tcp`` probe: ok when a TCP connection to host:port opens within the timeout."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from ial_resilience.probes.base import Outcome, Sample, describe, measure


@dataclass(frozen=True, slots=True)
class TcpConfig:
    host: str
    port: int
    timeout: float = 2.0
    name: str = ""


class TcpProbe:
    def __init__(self, config: TcpConfig) -> None:
        self.config = config

    @property
    def name(self) -> str:
        return self.config.name or f"tcp {self.config.host}:{self.config.port}"

    def _connect(self) -> Outcome:
        try:
            with socket.create_connection(
                (self.config.host, self.config.port), timeout=self.config.timeout
            ):
                return None, True, None
        except OSError as exc:
            return None, False, describe(exc)

    def sample(self) -> Sample:
        return measure(self._connect)

    def close(self) -> None:
        """Nothing is kept open between samples."""

"""What every probe kind shares: the :class:`Sample` it returns and the :class:`Probe` protocol.

A probe never raises from :meth:`Probe.sample`: a failed measurement is a sample with
``ok=False`` and an ``error`` text, so a failing probe is data in the journal, not an exception
that ends the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Sample:
    """One measurement: its value (if the kind has one), success, latency and when it was taken.

    ``t_wall`` is Unix time (s) at the start of the measurement, ``t_mono`` the monotonic clock
    at the same instant; durations are always computed from ``t_mono``.
    """

    value: float | None
    ok: bool
    latency_ms: float
    t_wall: float
    t_mono: float
    error: str | None = None


class Probe(Protocol):
    """A configured measurement that can be taken repeatedly."""

    @property
    def name(self) -> str: ...

    def sample(self) -> Sample: ...

    def close(self) -> None: ...


Outcome = tuple[float | None, bool, str | None]
"""What a probe's measuring function returns: (value, ok, error text)."""


def measure(action: Callable[[], Outcome]) -> Sample:
    """Time ``action`` and wrap its outcome in a :class:`Sample`; an exception becomes data."""
    t_wall = time.time()
    t_mono = time.monotonic()
    try:
        value, ok, error = action()
    except Exception as exc:  # a probe must never raise into the run
        value, ok, error = None, False, describe(exc)
    latency_ms = (time.monotonic() - t_mono) * 1000.0
    return Sample(value, ok, latency_ms, t_wall, t_mono, error)


def describe(exc: BaseException) -> str:
    """Short, single-line text for an exception: ``ConnectError: [Errno 111] …``."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

"""Durations and sizes as people write them: ``250ms``, ``30s``, ``5m``, ``64MiB``.

Parsers raise ``ValueError`` with a message that says what is expected; callers that know the
file and line wrap it into a :class:`~ial_resilience.errors.SpecError`.
"""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(us|µs|ms|s|m|h|d)\s*$")
_DURATION_UNITS = {
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
DURATION_FORM = "a duration such as 250ms, 30s, 5m or 1h"

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|k|K|M|G)?\s*$")
_SIZE_UNITS = {
    None: 1, "B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4,
    "k": 1024, "K": 1024, "M": 1024**2, "G": 1024**3,
    "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4,
}  # fmt: skip
SIZE_FORM = "a size such as 512KiB, 64MiB or 1GiB"


def parse_duration(text: str | int | float) -> float:
    """Return seconds. Bare numbers are refused: a unit must be written (``0.5`` is ambiguous)."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise ValueError(f"{text!r} has no unit; expected {DURATION_FORM}")
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not {DURATION_FORM}")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def parse_size(text: str | int) -> int:
    """Return bytes. A bare integer means bytes."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not {SIZE_FORM}")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"{text!r} is negative; expected {SIZE_FORM}")
        return text
    match = _SIZE.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not {SIZE_FORM}")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


def format_duration(seconds: float) -> str:
    """Short human form: ``850ms``, ``12.3s``, ``4m05s``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def format_size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.1f}TiB"

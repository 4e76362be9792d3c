"""Tolerances: which statistic of a probe's samples must satisfy which comparison.

Written in files as ``{success_rate: ">= 0.99", p95_ms: "<= 400"}``. Accepted comparison forms:
``>= X``, ``<= X``, ``> X``, ``< X``, ``== X``, ``!= X``, ``LOW..HIGH`` and
``between LOW and HIGH`` (ranges are inclusive). ``str(comparison)`` is the text as written.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

TOLERANCE_FORMS = '">= 0.99", "<= 400", "< 5", "== 0", "100..400" or "between 100 and 400"'

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_SINGLE = re.compile(rf"^\s*(>=|<=|==|!=|>|<)\s*({_NUMBER})\s*$")
_DOTS = re.compile(rf"^\s*({_NUMBER})\s*\.\.\s*({_NUMBER})\s*$")
_BETWEEN = re.compile(rf"^\s*between\s+({_NUMBER})\s+and\s+({_NUMBER})\s*$", re.IGNORECASE)
TOLERANCE_PATTERN = (
    rf"^\s*(?:(?:>=|<=|==|!=|>|<)\s*{_NUMBER}|{_NUMBER}\s*\.\.\s*{_NUMBER}"
    rf"|[Bb][Ee][Tt][Ww][Ee][Ee][Nn]\s+{_NUMBER}\s+[Aa][Nn][Dd]\s+{_NUMBER})\s*$"
)


class Statistic(StrEnum):
    """Statistics a tolerance may name (computed by ``ial_resilience.probes.stats``)."""

    SUCCESS_RATE = "success_rate"
    ERROR_RATE = "error_rate"
    COUNT = "count"
    P50_MS = "p50_ms"
    P95_MS = "p95_ms"
    P99_MS = "p99_ms"
    MEAN_MS = "mean_ms"
    MAX_MS = "max_ms"
    MIN_MS = "min_ms"
    VALUE_MIN = "value_min"
    VALUE_MAX = "value_max"
    VALUE_MEAN = "value_mean"
    VALUE_LAST = "value_last"


class ComparisonOp(StrEnum):
    GE = ">="
    LE = "<="
    GT = ">"
    LT = "<"
    EQ = "=="
    NE = "!="
    BETWEEN = "between"


@dataclass(frozen=True)
class Comparison:
    """``op value`` or, for ``BETWEEN``, ``value <= x <= high``."""

    op: ComparisonOp
    value: float
    high: float | None = None
    text: str = field(default="", compare=False)

    def holds(self, x: float | None) -> bool:
        """Whether ``x`` satisfies the comparison; ``None`` and NaN never do."""
        if x is None or math.isnan(x):
            return False
        match self.op:
            case ComparisonOp.GE:
                return x >= self.value
            case ComparisonOp.LE:
                return x <= self.value
            case ComparisonOp.GT:
                return x > self.value
            case ComparisonOp.LT:
                return x < self.value
            case ComparisonOp.EQ:
                return x == self.value
            case ComparisonOp.NE:
                return x != self.value
            case ComparisonOp.BETWEEN:
                return self.value <= x <= (self.high if self.high is not None else self.value)

    def __str__(self) -> str:
        if self.text:
            return self.text
        if self.op is ComparisonOp.BETWEEN:
            return f"{self.value:g}..{self.high:g}"
        return f"{self.op.value} {self.value:g}"


def parse_comparison(text: str) -> Comparison:
    """Parse one comparison; ``ValueError`` naming the accepted forms otherwise."""
    single = _SINGLE.match(text)
    if single:
        return Comparison(ComparisonOp(single.group(1)), float(single.group(2)), text=text)
    ranged = _DOTS.match(text) or _BETWEEN.match(text)
    if ranged:
        low, high = float(ranged.group(1)), float(ranged.group(2))
        if low > high:
            raise ValueError(f"a range whose low end is not above its high end ({TOLERANCE_FORMS})")
        return Comparison(ComparisonOp.BETWEEN, low, high, text=text)
    raise ValueError(f"a comparison such as {TOLERANCE_FORMS}")


def _validate(value: Any) -> Comparison:
    if isinstance(value, Comparison):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("tolerance", f"a quoted comparison such as {TOLERANCE_FORMS}")
    try:
        return parse_comparison(value)
    except ValueError as error:
        raise PydanticCustomError("tolerance", str(error)) from None


ComparisonField = Annotated[
    Comparison,
    PlainValidator(_validate),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": TOLERANCE_PATTERN}),
]
"""A :class:`Comparison` written as text in files."""

Tolerance = dict[Statistic, ComparisonField]
"""Statistic → comparison; every entry must hold."""

"""The toxic specification: what a caller asks for, validated once into a frozen value."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from ial_resilience.errors import InputError


class ToxicError(InputError, ValueError):
    """A toxic request that cannot be applied: unknown kind, bad attribute, wrong link."""


class Direction(StrEnum):
    """Which bytes a toxic sees.

    ``upstream`` = client → server bytes, ``downstream`` = server → client bytes.
    """

    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"
    BOTH = "both"

    def covers(self, flow: Direction) -> bool:
        return self is Direction.BOTH or self is flow


@dataclass(frozen=True)
class Attr:
    """One attribute of a toxic kind: its default, its bounds and the form expected in messages."""

    expected: str
    default: float | str | None = None
    minimum: float | None = None
    maximum: float | None = None
    above_minimum: bool = False  # strictly greater than ``minimum``
    text: bool = False  # a string rather than a number
    optional: bool = False  # may be left out even without a default

    def check(self, kind: str, name: str, value: Any) -> float | str | None:
        """Return the validated value or raise :class:`ToxicError` naming the attribute."""
        if value is None:
            if self.default is None and not self.optional:
                raise ToxicError(
                    f"toxic {kind!r}: attribute {name!r} is missing; expected {self.expected}",
                    hint=f"add {name!r} to the fault's parameters",
                )
            return self.default
        if self.text:
            if not isinstance(value, str) or not value:
                raise _bad(kind, name, value, self.expected)
            return value
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if not numeric or not math.isfinite(value):
            raise _bad(kind, name, value, self.expected)
        low_fails = self.minimum is not None and (
            value <= self.minimum if self.above_minimum else value < self.minimum
        )
        if low_fails or (self.maximum is not None and value > self.maximum):
            raise _bad(kind, name, value, self.expected)
        return float(value)


def _bad(kind: str, name: str, value: Any, expected: str) -> ToxicError:
    return ToxicError(
        f"toxic {kind!r}: attribute {name!r} is {value!r}; expected {expected}",
        hint=f"fix {name!r} in the fault's parameters",
    )


@dataclass(frozen=True)
class ToxicSpec:
    """A validated toxic: kind, attributes (with defaults filled in), direction and toxicity.

    ``toxicity`` is the probability that a connection meeting the toxic is affected; it is
    decided once per connection, when the connection first meets the toxic.
    """

    id: str
    kind: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    direction: Direction = Direction.BOTH
    toxicity: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))
        object.__setattr__(self, "direction", Direction(self.direction))

    def __hash__(self) -> int:  # attributes are a mapping, so hash what identifies the toxic
        return hash((self.id, self.kind, self.direction, self.toxicity))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "direction": self.direction.value,
            "toxicity": self.toxicity,
            "attributes": dict(self.attributes),
        }

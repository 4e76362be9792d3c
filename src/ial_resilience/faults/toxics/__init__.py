"""Toxics: the faults a link applies to the bytes passing through it (Toxiproxy's model).

Public API::

    from ial_resilience.faults.toxics import ToxicSpec, ToxicError, parse_toxic, TOXIC_KINDS

``parse_toxic(kind, attributes, direction, toxicity, id)`` validates a request once and returns
a frozen :class:`ToxicSpec` with defaults filled in; every problem raises :class:`ToxicError`
naming the attribute and the form expected. One module per kind; each declares its attributes
and the stage it adds to a connection's pipeline.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from typing import Any

from ial_resilience.faults.toxics._kind import ToxicKind
from ial_resilience.faults.toxics._spec import Direction, ToxicError, ToxicSpec
from ial_resilience.faults.toxics.bandwidth import Bandwidth
from ial_resilience.faults.toxics.down import Down
from ial_resilience.faults.toxics.http_abort import HttpAbort
from ial_resilience.faults.toxics.http_delay import HttpDelay
from ial_resilience.faults.toxics.latency import Latency
from ial_resilience.faults.toxics.loss import Loss
from ial_resilience.faults.toxics.reset import Reset
from ial_resilience.faults.toxics.slicer import Slicer
from ial_resilience.faults.toxics.slow_close import SlowClose
from ial_resilience.faults.toxics.slow_open import SlowOpen
from ial_resilience.faults.toxics.timeout import Timeout

TOXIC_KINDS: dict[str, type[ToxicKind]] = {
    kind.name: kind
    for kind in (
        Latency,
        Bandwidth,
        Slicer,
        Reset,
        Timeout,
        SlowClose,
        SlowOpen,
        Loss,
        Down,
        HttpAbort,
        HttpDelay,
    )
}

__all__ = [
    "TOXIC_KINDS",
    "Direction",
    "ToxicError",
    "ToxicKind",
    "ToxicSpec",
    "build_kind",
    "parse_toxic",
]


def parse_toxic(
    kind: str,
    attributes: Mapping[str, Any] | None = None,
    direction: str = "both",
    toxicity: float = 1.0,
    id: str | None = None,
    *,
    http_link: bool | None = None,
) -> ToxicSpec:
    """Validate a toxic request. ``http_link`` (when known) rejects HTTP toxics on TCP links."""
    kind_type = _kind_type(kind)
    if kind_type.http_only and http_link is False:
        raise ToxicError(
            f"toxic {kind!r} needs an HTTP-aware link; this link was created with http=false",
            hint="create the link with http=true, or use a TCP toxic such as 'latency'",
        )
    values = _check_attributes(kind_type, attributes or {})
    return ToxicSpec(
        id=id or f"{kind}-{uuid.uuid4().hex[:8]}",
        kind=kind,
        attributes=values,
        direction=_check_direction(kind, direction),
        toxicity=_check_toxicity(kind, toxicity),
    )


def build_kind(spec: ToxicSpec) -> ToxicKind:
    """The kind object for a spec, re-validating attributes (specs may be built by hand)."""
    kind_type = _kind_type(spec.kind)
    return kind_type(_check_attributes(kind_type, spec.attributes))


def _kind_type(kind: str) -> type[ToxicKind]:
    try:
        return TOXIC_KINDS[kind]
    except (KeyError, TypeError):
        known = ", ".join(sorted(TOXIC_KINDS))
        raise ToxicError(
            f"unknown toxic kind {kind!r}; expected one of: {known}",
            hint="pick a kind from the list",
        ) from None


def _check_attributes(kind_type: type[ToxicKind], given: Mapping[str, Any]) -> dict[str, Any]:
    schema = kind_type.attributes
    unknown = sorted(set(given) - set(schema))
    if unknown:
        allowed = ", ".join(sorted(schema)) or "none"
        raise ToxicError(
            f"toxic {kind_type.name!r}: unknown attribute {unknown[0]!r}; expected only: {allowed}",
            hint=f"remove {unknown[0]!r} or check its spelling",
        )
    return {
        name: attr.check(kind_type.name, name, given.get(name)) for name, attr in schema.items()
    }


def _check_direction(kind: str, direction: str) -> Direction:
    try:
        return Direction(direction)
    except ValueError:
        raise ToxicError(
            f"toxic {kind!r}: direction is {direction!r}; "
            "expected 'upstream', 'downstream' or 'both'",
            hint="upstream = client to server bytes, downstream = server to client",
        ) from None


def _check_toxicity(kind: str, toxicity: float) -> float:
    valid = (
        isinstance(toxicity, int | float)
        and not isinstance(toxicity, bool)
        and math.isfinite(toxicity)
        and 0.0 <= toxicity <= 1.0
    )
    if not valid:
        raise ToxicError(
            f"toxic {kind!r}: toxicity is {toxicity!r}; expected a probability in [0, 1]",
            hint="toxicity is the share of connections affected, e.g. 0.5",
        )
    return float(toxicity)

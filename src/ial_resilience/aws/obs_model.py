"""The unit of the AWS observability set-up: one desired resource, in the API's own shape.

Each builder (dashboards, queries, alarms, X-Ray, Application Insights) returns
:class:`Desired` items whose ``spec`` is exactly the keyword arguments of the API call that
creates it. ``ialr observe setup`` compares ``spec`` with what AWS describes; the 00c phase turns
the same ``spec`` into CloudFormation properties.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """Kinds of resource, in the order they are created (a composite alarm needs its children)."""

    TOPIC = "sns-topic"
    SUBSCRIPTION = "sns-subscription"
    DASHBOARD = "dashboard"
    QUERY = "query-definition"
    ALARM = "alarm"
    COMPOSITE_ALARM = "composite-alarm"
    SAMPLING_RULE = "xray-sampling-rule"
    XRAY_GROUP = "xray-group"
    APP_INSIGHTS = "application-insights"


class AlarmKind(StrEnum):
    """What an alarm compares: a fixed threshold, an anomaly band, an SLO burn rate, others."""

    STATIC = "static"
    ANOMALY = "anomaly"
    BURN_RATE = "burn-rate"
    COMPOSITE = "composite"


@dataclass(frozen=True)
class Desired:
    """One resource the set-up wants. ``key`` is a short slug (unique per kind) used for
    CloudFormation logical ids; ``name`` is the resource's name in AWS."""

    kind: Kind
    key: str
    name: str
    spec: Mapping[str, Any]
    alarm_kind: AlarmKind | None = None
    depends_on: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.key or not all(part.isalnum() for part in self.key.split("-")):
            raise ValueError(f"key {self.key!r} must be dash-separated letters and digits")


def logical_id(item: Desired) -> str:
    """``alb-5xx`` + ALARM -> ``Alb5xxAlarm``: unique per (kind, key)."""
    stem = "".join(part[:1].upper() + part[1:] for part in item.key.split("-"))
    suffix = "".join(part.capitalize() for part in item.kind.value.split("-")[-2:])
    return f"{stem}{suffix}"

"""CloudWatch Embedded Metric Format (EMF) lines turned into ``PutMetricData`` calls.

On AWS the CloudWatch agent (or Lambda, or ECS FireLens) extracts metrics from EMF log lines.
Where no agent runs (a CI runner, a laptop, a moto server) :func:`put_emf` does the same
extraction and publishes through ``PutMetricData``, so the metrics the observability library
writes can be checked with ``GetMetricData``/``ListMetrics``. The parser follows the EMF
specification: ``_aws.CloudWatchMetrics`` directives, each with a namespace, dimension sets
and metric definitions whose values (a number or a list of numbers) are root-level members.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from ial_resilience.aws._session import AwsTarget, aws_call, client
from ial_resilience.errors import InputError

BATCH = 500  # PutMetricData accepts up to 1000 datums (1 MB) per request


@dataclass(frozen=True)
class Datum:
    namespace: str
    name: str
    values: tuple[float, ...]
    dimensions: tuple[tuple[str, str], ...]
    timestamp: datetime
    unit: str = "None"
    resolution: int = 60

    def as_metric_datum(self) -> dict[str, Any]:
        datum: dict[str, Any] = {
            "MetricName": self.name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in self.dimensions],
            "Timestamp": self.timestamp,
            "Unit": self.unit,
            "StorageResolution": self.resolution,
        }
        if len(self.values) == 1:
            datum["Value"] = self.values[0]
        else:
            datum["Values"] = list(self.values)
        return datum


def _bad(where: str, problem: str) -> InputError:
    return InputError(
        f"{where}: not an EMF document: {problem}",
        hint="see the CloudWatch embedded metric format specification (_aws.CloudWatchMetrics)",
    )


def _values(document: Mapping[str, Any], name: str, where: str) -> tuple[float, ...]:
    raw = document.get(name)
    items = raw if isinstance(raw, list) else [raw]
    numbers = [float(v) for v in items if isinstance(v, int | float) and not isinstance(v, bool)]
    if not items or len(numbers) != len(items):
        raise _bad(where, f"metric {name!r} needs a number or a list of numbers, got {raw!r}")
    return tuple(numbers)


def _directive(
    document: Mapping[str, Any], directive: Mapping[str, Any], ts: datetime, where: str
) -> list[Datum]:
    namespace = directive.get("Namespace")
    if not isinstance(namespace, str) or not namespace:
        raise _bad(where, "a CloudWatchMetrics directive has no Namespace")
    data = []
    for dimension_set in directive.get("Dimensions") or [[]]:
        missing = [key for key in dimension_set if not isinstance(document.get(key), str)]
        if missing:
            raise _bad(where, f"dimension(s) {missing} have no string value in the document")
        dims = tuple((key, str(document[key])) for key in dimension_set)
        for metric in directive.get("Metrics", []):
            name = metric.get("Name") if isinstance(metric, Mapping) else None
            if not isinstance(name, str):
                raise _bad(where, f"metric definition {metric!r} has no Name")
            data.append(
                Datum(
                    namespace,
                    name,
                    _values(document, name, where),
                    dims,
                    ts,
                    str(metric.get("Unit", "None")),
                    int(metric.get("StorageResolution", 60)),
                )
            )
    return data


def parse_line(line: str, where: str = "EMF line") -> list[Datum]:
    """Every datum one EMF JSON line declares; ``InputError`` naming ``where`` otherwise."""
    try:
        document = json.loads(line)
    except json.JSONDecodeError as error:
        raise _bad(where, f"invalid JSON ({error.msg} at column {error.colno})") from None
    meta = document.get("_aws") if isinstance(document, dict) else None
    if not isinstance(meta, dict) or not isinstance(meta.get("CloudWatchMetrics"), list):
        raise _bad(where, "no _aws.CloudWatchMetrics list")
    stamp = meta.get("Timestamp")
    if not isinstance(stamp, int | float):
        raise _bad(where, "_aws.Timestamp must be epoch milliseconds")
    ts = datetime.fromtimestamp(stamp / 1000, tz=UTC)
    return [
        d
        for directive in meta["CloudWatchMetrics"]
        for d in _directive(document, directive, ts, where)
    ]


Rollups = Mapping[str, Iterable[tuple[str, ...]]]


def rolled_up(datum: Datum, rollups: Rollups) -> list[Datum]:
    """``datum`` plus one copy per dimension set of ``rollups[datum.name]`` that is a strict
    subset of its dimensions (CloudWatch aggregates nothing by itself)."""
    own = dict(datum.dimensions)
    extra = [
        replace(datum, dimensions=tuple((key, own[key]) for key in keys))
        for keys in rollups.get(datum.name, ())
        if set(keys) < set(own)
    ]
    return [datum, *extra]


def put_emf(target: AwsTarget, lines: Iterable[str], rollups: Rollups | None = None) -> int:
    """Publish every datum of ``lines`` with ``PutMetricData`` (plus the ``rollups`` dimension
    sets, e.g. :func:`~ial_resilience.aws.obs_burn_rate.dimension_sets`); returns how many."""
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for number, line in enumerate(lines, start=1):
        if line.strip():
            for parsed in parse_line(line, where=f"EMF line {number}"):
                for datum in rolled_up(parsed, rollups or {}):
                    by_namespace.setdefault(datum.namespace, []).append(datum.as_metric_datum())
    cloudwatch = client("cloudwatch", target)
    for namespace, data in by_namespace.items():
        for start in range(0, len(data), BATCH):
            with aws_call(f"put metric data into {namespace}", target):
                cloudwatch.put_metric_data(
                    Namespace=namespace, MetricData=data[start : start + BATCH]
                )
    return sum(len(data) for data in by_namespace.values())

"""Monthly cost estimate of what the observability set-up creates, from a dated price table.

Prices: us-east-1 list prices in USD from the one dated price table ``aws/data/prices.json``
(first pricing tier; free tier not subtracted; ``ialr observe cost --report`` reads the same
file). They are not fetched at run time: check the pages before budgeting. Query definitions,
X-Ray groups and sampling rules, SNS topics and
Application Insights itself cost nothing; their CloudWatch resources are counted here.

Alarm billing follows CloudWatch: per alarm metric (an anomaly-detection alarm counts 3: the
metric and both band edges; a metric-math alarm counts each metric it reads), 3× for periods
under 60 s (high resolution), a flat price per composite alarm.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ial_resilience.aws.obs_model import AlarmKind, Desired, Kind
from ial_resilience.errors import InputError

PRICE_FILE = Path(__file__).with_name("data") / "prices.json"


def load_prices(path: Path = PRICE_FILE) -> dict[str, Any]:
    """The one price table (``aws/data/prices.json``: date, region, prices, usage defaults)."""
    try:
        table: dict[str, Any] = json.loads(path.read_text())
        missing = [k for k in ("prices_as_of", "source", "prices", "usage") if k not in table]
        if missing:
            raise KeyError(", ".join(missing))
    except (OSError, ValueError, KeyError) as error:
        raise InputError(
            f"price file {path} is unreadable or incomplete ({error})",
            hint="it needs prices_as_of, source, prices and usage (see aws/data/prices.json)",
        ) from error
    return table


_TABLE = load_prices()
_PRICE = _TABLE["prices"]
PRICES_AS_OF = str(_TABLE["prices_as_of"])
PRICE_SOURCE = str(_TABLE["source"])
DASHBOARD_MONTH = float(_PRICE["cloudwatch_dashboard_month"])
ALARM_METRIC_MONTH = float(_PRICE["cloudwatch_alarm_metric_month"])
HIGH_RESOLUTION_ALARM_METRIC_MONTH = float(_PRICE["cloudwatch_high_resolution_alarm_metric_month"])
COMPOSITE_ALARM_MONTH = float(_PRICE["cloudwatch_composite_alarm_month"])
CUSTOM_METRIC_MONTH = float(_PRICE["cloudwatch_custom_metric_month"])
INSIGHTS_PER_GB_SCANNED = float(_PRICE["logs_insights_per_gb_scanned"])
XRAY_PER_MILLION_RECORDED = float(_PRICE["xray_per_million_recorded"])
XRAY_PER_MILLION_SCANNED = float(_PRICE["xray_per_million_scanned"])
ANOMALY_ALARM_METRICS = 3
CUSTOM_PREFIX = "IaL/"


@dataclass(frozen=True)
class Usage:
    """What the estimate cannot count from the resources: traffic-driven quantities."""

    traces_recorded_per_month: float = 1_000_000
    traces_scanned_per_month: float = 100_000
    insights_gb_scanned_per_month: float = 10.0

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value < 0:
                raise ValueError(f"{name} must be >= 0 (got {value})")


@dataclass(frozen=True)
class CostLine:
    item: str
    quantity: float
    unit: str
    unit_price: float

    @property
    def monthly(self) -> float:
        return self.quantity * self.unit_price

    def as_json(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "quantity": self.quantity,
            "unit": self.unit,
            "unit_price_usd": self.unit_price,
            "monthly_usd": round(self.monthly, 4),
        }


@dataclass(frozen=True)
class CostEstimate:
    lines: tuple[CostLine, ...]

    @property
    def total(self) -> float:
        return sum(line.monthly for line in self.lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "currency": "USD",
            "prices_as_of": PRICES_AS_OF,
            "price_source": PRICE_SOURCE,
            "lines": [line.as_json() for line in self.lines],
            "monthly_total_usd": round(self.total, 2),
        }


def alarm_metrics(spec: Mapping[str, Any]) -> int:
    """Metrics an alarm reads: 1 for a plain alarm, each ``MetricStat`` of a math alarm."""
    queries = spec.get("Metrics")
    if not queries:
        return 1
    return max(1, sum(1 for query in queries if "MetricStat" in query))


def high_resolution(spec: Mapping[str, Any]) -> bool:
    periods = [spec.get("Period")] + [
        q.get("MetricStat", {}).get("Period") for q in spec.get("Metrics", [])
    ]
    return any(isinstance(p, int) and p < 60 for p in periods)


_SEARCH = re.compile(r'Namespace="([^"]+)" MetricName="([^"]+)"')
_INSIGHTS = re.compile(r'SELECT \w+\("([^"]+)"\) FROM "([^"]+)"')


def _names_in_alarm(spec: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    metrics = [q["MetricStat"]["Metric"] for q in spec.get("Metrics", []) if "MetricStat" in q]
    if "MetricName" in spec:
        metrics.append(spec)
    for metric in metrics:
        yield str(metric["Namespace"]), str(metric["MetricName"])
    for query in spec.get("Metrics", []):
        for name, namespace in _INSIGHTS.findall(str(query.get("Expression", ""))):
            yield namespace, name


def _names_in_dashboard(spec: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    for widget in json.loads(spec["DashboardBody"])["widgets"]:
        for line in widget["properties"]["metrics"]:
            if isinstance(line[0], str):
                yield line[0], line[1]
            else:
                yield from _SEARCH.findall(str(line[0].get("expression", "")))


def custom_metrics(items: Sequence[Desired]) -> int:
    """Distinct custom metric names (namespace ``IaL/…``) that dashboards and alarms read:
    at least one series each (more when a metric has several dimension values)."""
    names: set[tuple[str, str]] = set()
    for item in items:
        if item.kind in (Kind.ALARM, Kind.COMPOSITE_ALARM):
            names.update(_names_in_alarm(item.spec))
        elif item.kind is Kind.DASHBOARD:
            names.update(_names_in_dashboard(item.spec))
    return sum(1 for namespace, _ in names if namespace.startswith(CUSTOM_PREFIX))


def _alarm_lines(items: Sequence[Desired]) -> list[CostLine]:
    metrics: dict[tuple[AlarmKind, bool], int] = {}
    composites = 0
    for item in items:
        if item.kind is Kind.COMPOSITE_ALARM:
            composites += 1
        elif item.kind is Kind.ALARM and item.alarm_kind is not None:
            count = (
                ANOMALY_ALARM_METRICS
                if item.alarm_kind is AlarmKind.ANOMALY
                else (alarm_metrics(item.spec))
            )
            key = (item.alarm_kind, high_resolution(item.spec))
            metrics[key] = metrics.get(key, 0) + count
    lines = [
        CostLine(
            f"alarm metrics ({kind.value}{', high resolution' if high else ''})",
            count,
            "alarm metric-month",
            HIGH_RESOLUTION_ALARM_METRIC_MONTH if high else ALARM_METRIC_MONTH,
        )
        for (kind, high), count in sorted(metrics.items())
    ]
    lines.append(CostLine("composite alarms", composites, "alarm-month", COMPOSITE_ALARM_MONTH))
    return lines


def estimate(items: Sequence[Desired], usage: Usage = Usage()) -> CostEstimate:
    """The monthly cost of ``items`` plus the traffic in ``usage``."""
    dashboards = sum(1 for item in items if item.kind is Kind.DASHBOARD)
    return CostEstimate(
        (
            CostLine("dashboards", dashboards, "dashboard-month", DASHBOARD_MONTH),
            *_alarm_lines(items),
            CostLine(
                "custom metrics (IaL/*)", custom_metrics(items), "metric-month", CUSTOM_METRIC_MONTH
            ),
            CostLine(
                "X-Ray traces recorded",
                usage.traces_recorded_per_month / 1e6,
                "million traces",
                XRAY_PER_MILLION_RECORDED,
            ),
            CostLine(
                "X-Ray traces retrieved or scanned",
                usage.traces_scanned_per_month / 1e6,
                "million traces",
                XRAY_PER_MILLION_SCANNED,
            ),
            CostLine(
                "Logs Insights data scanned",
                usage.insights_gb_scanned_per_month,
                "GB",
                INSIGHTS_PER_GB_SCANNED,
            ),
        )
    )

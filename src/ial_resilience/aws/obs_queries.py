"""Saved CloudWatch Logs Insights queries over the application's structured JSON logs.

The log fields are those the observability library writes (``level``, ``status``,
``duration_ms``, ``event``, ``trace_id``); the chaos engine logs ``event`` values starting with
``chaos.`` and deployments log ``deployment.*``.
"""

from __future__ import annotations

from ial_resilience.aws.obs_model import Desired, Kind
from ial_resilience.aws.obs_scope import Scope

QUERIES: tuple[tuple[str, str], ...] = (
    (
        "error-rate",
        "fields @timestamp, status\n"
        "| stats sum(status >= 500) as errors, count(*) as requests,"
        " sum(status >= 500) * 100 / count(*) as error_rate_pct by bin(5m)\n"
        "| sort @timestamp desc",
    ),
    (
        "latency-percentiles",
        "fields @timestamp, duration_ms\n"
        "| filter ispresent(duration_ms)\n"
        "| stats pct(duration_ms, 50) as p50, pct(duration_ms, 95) as p95,"
        " pct(duration_ms, 99) as p99 by bin(5m)",
    ),
    (
        "failed-deployments",
        "fields @timestamp, event, deployment_id, phase, reason\n"
        "| filter event = 'deployment.failed' or event = 'deployment.rolled_back'\n"
        "| sort @timestamp desc\n"
        "| limit 100",
    ),
    (
        "chaos-events",
        "fields @timestamp, event, experiment, fault, target, trace_id\n"
        "| filter event like /^chaos\\./\n"
        "| sort @timestamp desc\n"
        "| limit 200",
    ),
)


def query_definitions(scope: Scope) -> tuple[Desired, ...]:
    """One saved query per entry of :data:`QUERIES`, named ``<prefix>/<key>``."""
    return tuple(
        Desired(
            Kind.QUERY,
            key,
            f"{scope.prefix}/{key}",
            {
                "name": f"{scope.prefix}/{key}",
                "queryString": text,
                "logGroupNames": [scope.log_group],
            },
        )
        for key, text in QUERIES
    )

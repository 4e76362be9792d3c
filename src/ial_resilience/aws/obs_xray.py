"""X-Ray sampling rules and groups, and the Application Insights application.

Traces reach X-Ray over OTLP (the X-Ray SDKs are in maintenance mode since February 2026); the
sampling rules apply to the ADOT collector's X-Ray remote sampler just the same. Names stay
within X-Ray's 32-character limit (hence the 16-character environment limit in ``Scope``).
"""

from __future__ import annotations

from typing import Any

from ial_resilience.aws.obs_model import Desired, Kind
from ial_resilience.aws.obs_scope import Scope

# (key, priority, fixed rate, reservoir per second, HTTP method, URL path): lower priority first
SAMPLING: tuple[tuple[str, int, float, int, str, str], ...] = (
    ("health", 100, 0.0, 0, "GET", "/health*"),
    ("writes", 200, 0.2, 2, "POST", "*"),
    ("api", 300, 0.05, 1, "*", "*"),
)
GROUPS: tuple[tuple[str, str], ...] = (
    ("errors", "fault = true OR error = true"),
    ("slow", "responsetime > 1"),
)


def sampling_rule(
    scope: Scope, key: str, priority: int, rate: float, reservoir: int, method: str, path: str
) -> Desired:
    name = scope.name(key)
    spec: dict[str, Any] = {
        "RuleName": name,
        "ResourceARN": "*",
        "Priority": priority,
        "FixedRate": rate,
        "ReservoirSize": reservoir,
        "ServiceName": scope.ecs_service,
        "ServiceType": "*",
        "Host": "*",
        "HTTPMethod": method,
        "URLPath": path,
        "Version": 1,
    }
    return Desired(Kind.SAMPLING_RULE, key, name, spec)


def sampling_rules(scope: Scope) -> tuple[Desired, ...]:
    return tuple(sampling_rule(scope, *row) for row in SAMPLING)


def groups(scope: Scope) -> tuple[Desired, ...]:
    return tuple(
        Desired(
            Kind.XRAY_GROUP,
            key,
            scope.name(key),
            {
                "GroupName": scope.name(key),
                "FilterExpression": expression,
                "InsightsConfiguration": {"InsightsEnabled": True, "NotificationsEnabled": False},
            },
        )
        for key, expression in GROUPS
    )


def resource_group_query(scope: Scope) -> dict[str, Any]:
    """The tag query of the resource group Application Insights monitors."""
    query = {
        "ResourceTypeFilters": ["AWS::AllSupported"],
        "TagFilters": [{"Key": "Environment", "Values": [scope.environment]}],
    }
    return {"Type": "TAG_FILTERS_1_0", "Query": query}


def application_insights(scope: Scope) -> Desired:
    group = scope.name("resources")
    return Desired(
        Kind.APP_INSIGHTS,
        "app",
        group,
        {
            "ResourceGroupName": group,
            "AutoConfigurationEnabled": True,
            "CWEMonitorEnabled": True,
            "OpsCenterEnabled": False,
        },
    )

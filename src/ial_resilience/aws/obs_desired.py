"""Everything the AWS observability set-up creates, in creation order.

``desired_state`` is the one list both the 00c phase and ``ialr observe setup --aws`` are made
from: SNS topic and e-mail subscription, three dashboards, Logs Insights queries, static and
anomaly alarms, the composite alarm, SLO burn-rate alarms compiled from a rule file (the
built-in API availability SLO when none is given), X-Ray sampling rules and groups, and the
Application Insights application.
"""

from __future__ import annotations

from ial_resilience.alerting.rules import RuleFile
from ial_resilience.aws.obs_alarms import alarms
from ial_resilience.aws.obs_burn_rate import burn_rate_alarms
from ial_resilience.aws.obs_dashboards import dashboards
from ial_resilience.aws.obs_model import Desired, Kind
from ial_resilience.aws.obs_queries import query_definitions
from ial_resilience.aws.obs_scope import BUSINESS_NAMESPACE, Scope
from ial_resilience.aws.obs_xray import application_insights, groups, sampling_rules

TOPIC_KEY = "alarms"


def default_rules() -> RuleFile:
    """The built-in SLO: 99.9 % of API requests succeed (SRE workbook windows)."""
    return RuleFile.model_validate(
        {
            "version": 1,
            "rules": [
                {
                    "name": "api-availability",
                    "kind": "burn_rate",
                    "severity": "critical",
                    "objective": 0.999,
                    "good": {
                        "metric": "http.requests",
                        "where": {"service": "api", "outcome": "ok"},
                    },
                    "total": {"metric": "http.requests", "where": {"service": "api"}},
                }
            ],
        }
    )


def topic(scope: Scope) -> Desired:
    name = scope.name(TOPIC_KEY)
    return Desired(Kind.TOPIC, TOPIC_KEY, name, {"Name": name})


def subscription(scope: Scope, topic_arn: str) -> tuple[Desired, ...]:
    if not scope.alert_email:
        return ()
    spec = {"TopicArn": topic_arn, "Protocol": "email", "Endpoint": scope.alert_email}
    return (Desired(Kind.SUBSCRIPTION, "email", scope.alert_email, spec),)


def desired_state(
    scope: Scope, topic_arn: str, rules: RuleFile | None = None, namespace: str = BUSINESS_NAMESPACE
) -> tuple[Desired, ...]:
    """Every resource for ``scope``, alarms sending to ``topic_arn``, in creation order."""
    items = (
        topic(scope),
        *subscription(scope, topic_arn),
        *dashboards(scope),
        *query_definitions(scope),
        *alarms(scope, topic_arn),
        *burn_rate_alarms(scope, topic_arn, rules or default_rules(), namespace),
        *sampling_rules(scope),
        *groups(scope),
        application_insights(scope),
    )
    order = list(Kind)
    ordered = tuple(sorted(items, key=lambda item: order.index(item.kind)))
    _unique(ordered)
    return ordered


def _unique(items: tuple[Desired, ...]) -> None:
    seen: set[tuple[Kind, str]] = set()
    for item in items:
        if (item.kind, item.key) in seen:
            raise ValueError(f"two {item.kind.value} resources share the key {item.key!r}")
        seen.add((item.kind, item.key))

"""Reading and writing each kind of observability resource through the AWS APIs.

One :class:`Handler` per :class:`~ial_resilience.aws.obs_model.Kind`: ``read`` describes what
exists for the desired names (name -> the API's description), ``same`` compares one desired
``spec`` with it (pure), ``write`` creates or updates it. Every call goes through
:func:`~ial_resilience.aws._session.aws_call`, the one botocore boundary.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ial_resilience.aws._session import AwsError, AwsNotFound, AwsTarget, aws_call, client
from ial_resilience.aws.obs_model import Desired, Kind
from ial_resilience.aws.obs_scope import Scope
from ial_resilience.aws.obs_xray import resource_group_query

Actual = dict[str, Mapping[str, Any]]


@dataclass(frozen=True)
class Api:
    """Calls for one target; ``scope`` gives the name prefix used to list resources."""

    target: AwsTarget
    scope: Scope

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        with aws_call(f"call {service} {operation}", self.target):
            return dict(getattr(client(service, self.target), operation)(**params))

    def pages(self, service: str, operation: str, key: str, **params: Any) -> list[Any]:
        """Every item under ``key`` across pages (paginator, or ``nextToken`` by hand)."""
        with aws_call(f"call {service} {operation}", self.target):
            api = client(service, self.target)
            if api.can_paginate(operation):
                return [
                    i
                    for page in api.get_paginator(operation).paginate(**params)
                    for i in page.get(key, [])
                ]
            items: list[Any] = []
            while True:
                page = getattr(api, operation)(**params)
                items += page.get(key, [])
                if not page.get("nextToken"):
                    return items
                params["nextToken"] = page["nextToken"]


def matches(desired: Any, actual: Any) -> bool:
    """True when every value in ``desired`` is in ``actual`` (extra actual keys are ignored;
    an empty desired list equals a missing one; numbers compare as floats; name/value lists
    compare without order)."""
    if isinstance(desired, Mapping):
        return isinstance(actual, Mapping) and all(
            matches(value, actual.get(key)) for key, value in desired.items()
        )
    if isinstance(desired, list | tuple):
        return _lists_match(desired, actual)
    if isinstance(desired, bool) or isinstance(actual, bool):
        return desired is actual or desired == actual
    if isinstance(desired, int | float):
        return isinstance(actual, int | float) and math.isclose(desired, actual, rel_tol=1e-9)
    return bool(desired == actual)


def _lists_match(desired: Sequence[Any], actual: Any) -> bool:
    if actual is None:
        return len(desired) == 0
    if not isinstance(actual, list | tuple) or len(actual) != len(desired):
        return False
    if all(isinstance(d, Mapping) and "Name" in d for d in [*desired, *actual]):
        desired = sorted(desired, key=lambda d: str(d["Name"]))
        actual = sorted(actual, key=lambda d: str(d["Name"]))
    return all(matches(d, a) for d, a in zip(desired, actual, strict=True))


@dataclass(frozen=True)
class Handler:
    read: Callable[[Api, Sequence[Desired]], Actual]
    write: Callable[[Api, Desired, Mapping[str, Any] | None], None]
    same: Callable[[Desired, Mapping[str, Any]], bool] = lambda item, found: matches(
        item.spec, found
    )


def _read_topics(api: Api, items: Sequence[Desired]) -> Actual:
    arns = [t["TopicArn"] for t in api.pages("sns", "list_topics", "Topics")]
    by_name = {arn.rsplit(":", 1)[-1]: arn for arn in arns}
    return {
        i.name: {"Name": i.name, "TopicArn": by_name[i.name]} for i in items if i.name in by_name
    }


def _read_subscriptions(api: Api, items: Sequence[Desired]) -> Actual:
    found: Actual = {}
    for topic_arn in {str(i.spec["TopicArn"]) for i in items}:
        try:
            subs = api.pages(
                "sns", "list_subscriptions_by_topic", "Subscriptions", TopicArn=topic_arn
            )
        except (AwsNotFound, AwsError) as error:
            if isinstance(error, AwsError) and error.code != "NotFound":
                raise
            continue  # the topic does not exist yet (dry run): no subscription either
        for sub in subs:
            found[str(sub.get("Endpoint"))] = sub
    return found


def _read_dashboards(api: Api, items: Sequence[Desired]) -> Actual:
    listed = api.pages(
        "cloudwatch", "list_dashboards", "DashboardEntries", DashboardNamePrefix=api.scope.prefix
    )
    names = {entry["DashboardName"] for entry in listed} & {i.name for i in items}
    return {name: api.call("cloudwatch", "get_dashboard", DashboardName=name) for name in names}


def _same_dashboard(item: Desired, found: Mapping[str, Any]) -> bool:
    body = found.get("DashboardBody")
    return isinstance(body, str) and json.loads(body) == json.loads(item.spec["DashboardBody"])


def _read_queries(api: Api, items: Sequence[Desired]) -> Actual:
    listed = api.pages(
        "logs",
        "describe_query_definitions",
        "queryDefinitions",
        queryDefinitionNamePrefix=api.scope.prefix,
    )
    return {q["name"]: q for q in listed}


def _write_query(api: Api, item: Desired, found: Mapping[str, Any] | None) -> None:
    extra = {"queryDefinitionId": found["queryDefinitionId"]} if found else {}
    api.call("logs", "put_query_definition", **item.spec, **extra)


def _alarm_reader(key: str, alarm_type: str) -> Callable[[Api, Sequence[Desired]], Actual]:
    def read(api: Api, items: Sequence[Desired]) -> Actual:
        listed = api.pages(
            "cloudwatch",
            "describe_alarms",
            key,
            AlarmNamePrefix=api.scope.prefix,
            AlarmTypes=[alarm_type],
        )
        return {alarm["AlarmName"]: alarm for alarm in listed}

    return read


def _read_sampling_rules(api: Api, items: Sequence[Desired]) -> Actual:
    records = api.pages("xray", "get_sampling_rules", "SamplingRuleRecords")
    return {r["SamplingRule"]["RuleName"]: r["SamplingRule"] for r in records}


def _write_sampling_rule(api: Api, item: Desired, found: Mapping[str, Any] | None) -> None:
    if found is None:
        api.call("xray", "create_sampling_rule", SamplingRule=dict(item.spec))
        return
    update = {k: v for k, v in item.spec.items() if k != "Version"}
    api.call("xray", "update_sampling_rule", SamplingRuleUpdate=update)


def _read_groups(api: Api, items: Sequence[Desired]) -> Actual:
    return {g["GroupName"]: g for g in api.pages("xray", "get_groups", "Groups")}


def _write_group(api: Api, item: Desired, found: Mapping[str, Any] | None) -> None:
    api.call("xray", "update_group" if found else "create_group", **item.spec)


_APP_FIELDS = {"AutoConfigurationEnabled": "AutoConfigEnabled"}


def _read_applications(api: Api, items: Sequence[Desired]) -> Actual:
    found: Actual = {}
    for item in items:
        try:
            info = api.call(
                "application-insights", "describe_application", ResourceGroupName=item.name
            )["ApplicationInfo"]
        except AwsNotFound as error:
            if error.code == "404":  # an HTTP 404 without an AWS code: the API is absent
                raise
            continue
        found[item.name] = {key: info.get(_APP_FIELDS.get(key, key)) for key in item.spec}
    return found


def _write_application(api: Api, item: Desired, found: Mapping[str, Any] | None) -> None:
    if found is not None:
        update = {_APP_FIELDS.get(k, k): v for k, v in item.spec.items()}
        api.call("application-insights", "update_application", **update)
        return
    try:
        api.call("resource-groups", "get_group", GroupName=item.name)
    except AwsNotFound:
        query = resource_group_query(api.scope)
        api.call(
            "resource-groups",
            "create_group",
            Name=item.name,
            ResourceQuery={"Type": query["Type"], "Query": json.dumps(query["Query"])},
        )
    api.call("application-insights", "create_application", **item.spec)


def _simple(
    service: str, operation: str
) -> Callable[[Api, Desired, Mapping[str, Any] | None], None]:
    def write(api: Api, item: Desired, found: Mapping[str, Any] | None) -> None:
        api.call(service, operation, **item.spec)

    return write


HANDLERS: dict[Kind, Handler] = {
    Kind.TOPIC: Handler(_read_topics, _simple("sns", "create_topic")),
    Kind.SUBSCRIPTION: Handler(_read_subscriptions, _simple("sns", "subscribe")),
    Kind.DASHBOARD: Handler(
        _read_dashboards, _simple("cloudwatch", "put_dashboard"), _same_dashboard
    ),
    Kind.QUERY: Handler(_read_queries, _write_query),
    Kind.ALARM: Handler(
        _alarm_reader("MetricAlarms", "MetricAlarm"), _simple("cloudwatch", "put_metric_alarm")
    ),
    Kind.COMPOSITE_ALARM: Handler(
        _alarm_reader("CompositeAlarms", "CompositeAlarm"),
        _simple("cloudwatch", "put_composite_alarm"),
    ),
    Kind.SAMPLING_RULE: Handler(_read_sampling_rules, _write_sampling_rule),
    Kind.XRAY_GROUP: Handler(_read_groups, _write_group),
    Kind.APP_INSIGHTS: Handler(_read_applications, _write_application),
}

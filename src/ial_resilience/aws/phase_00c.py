"""Phase 00c, enhanced observability: the CloudFormation template, built in code.

The resources are :func:`~ial_resilience.aws.obs_desired.desired_state` for the placeholder
scope (``${Environment}``, ``${LoadBalancerFullName}``…): the same list ``ialr observe setup
--aws`` creates through the APIs. A string holding ``${…}`` becomes ``!Sub`` (``!Ref`` when it
is exactly one parameter or resource); the alarm topic is the ``AlarmTopic`` resource.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ial_resilience.aws.cfn import Equals, GetAtt, Not, Ref, Sub, Template
from ial_resilience.aws.obs_desired import desired_state
from ial_resilience.aws.obs_model import Desired, Kind, logical_id
from ial_resilience.aws.obs_scope import Scope
from ial_resilience.aws.obs_xray import resource_group_query

NAME = "00c-enhanced-observability"
TOPIC_ID = "AlarmTopic"
RESOURCE_GROUP_ID = "ApplicationResourceGroup"
_ONE_NAME = re.compile(r"^\$\{([A-Za-z0-9]+)\}$")
_TYPES = {
    Kind.DASHBOARD: "AWS::CloudWatch::Dashboard",
    Kind.QUERY: "AWS::Logs::QueryDefinition",
    Kind.ALARM: "AWS::CloudWatch::Alarm",
    Kind.COMPOSITE_ALARM: "AWS::CloudWatch::CompositeAlarm",
    Kind.SAMPLING_RULE: "AWS::XRay::SamplingRule",
    Kind.XRAY_GROUP: "AWS::XRay::Group",
    Kind.APP_INSIGHTS: "AWS::ApplicationInsights::Application",
}
_PARAMETERS = (
    ("LoadBalancerFullName", "ALB full name (app/<name>/<id>) for metrics and alarms"),
    ("EcsClusterName", "ECS cluster running the API service"),
    ("EcsServiceName", "ECS service of the API (also the X-Ray service name)"),
    ("AuroraClusterId", "Aurora PostgreSQL cluster identifier"),
    ("DynamoDbTableName", "DynamoDB table watched for throttling"),
    ("ApplicationLogGroup", "Log group of the application's JSON logs (Logs Insights)"),
)


def cfn_value(value: Any) -> Any:
    """Strings with ``${…}`` become ``!Sub`` (or ``!Ref``); containers are walked."""
    if isinstance(value, str):
        if "${" not in value:
            return value
        one = _ONE_NAME.match(value)
        return Ref(one.group(1)) if one else Sub(value)
    if isinstance(value, Mapping):
        return {key: cfn_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [cfn_value(item) for item in value]
    return value


def properties(item: Desired) -> dict[str, Any]:
    spec = dict(item.spec)
    if item.kind is Kind.QUERY:
        spec = {
            "Name": spec["name"],
            "QueryString": spec["queryString"],
            "LogGroupNames": spec["logGroupNames"],
        }
    elif item.kind is Kind.SAMPLING_RULE:
        spec = {"SamplingRule": spec}
    elif item.kind is Kind.APP_INSIGHTS:
        spec["ResourceGroupName"] = Ref(RESOURCE_GROUP_ID)
    return dict(cfn_value(spec))


def add_parameters(t: Template) -> None:
    t.parameter(
        "Environment",
        "String",
        "Deployment environment (names start ialr-<env>-)",
        Default="prod",
        AllowedPattern="^[a-z][a-z0-9-]{0,15}$",
    )
    for name, text in _PARAMETERS:
        t.parameter(name, "String", text)
    t.parameter(
        "AlertEmail", "String", "E-mail subscribed to the alarm topic (empty: none)", Default=""
    )
    t.condition("HasAlertEmail", Not(Equals(Ref("AlertEmail"), "")))


def add_topic(t: Template, scope: Scope) -> None:
    t.resource(
        TOPIC_ID,
        "AWS::SNS::Topic",
        {
            "TopicName": Sub(scope.name("alarms")),
            "DisplayName": Sub("IaL ${Environment} alarms"),
        },
    )
    t.resource(
        "AlarmTopicPolicy",
        "AWS::SNS::TopicPolicy",
        {
            "Topics": [Ref(TOPIC_ID)],
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "CloudWatchAlarmsPublish",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudwatch.amazonaws.com"},
                        "Action": "sns:Publish",
                        "Resource": Ref(TOPIC_ID),
                        "Condition": {"StringEquals": {"aws:SourceAccount": Ref("AWS::AccountId")}},
                    }
                ],
            },
        },
    )
    t.resource(
        "AlarmEmailSubscription",
        "AWS::SNS::Subscription",
        {
            "TopicArn": Ref(TOPIC_ID),
            "Protocol": "email",
            "Endpoint": Ref("AlertEmail"),
        },
        Condition="HasAlertEmail",
    )


def add_resource_group(t: Template, scope: Scope) -> None:
    t.resource(
        RESOURCE_GROUP_ID,
        "AWS::ResourceGroups::Group",
        {
            "Name": Sub(scope.name("resources")),
            "Description": Sub(
                "Resources tagged Environment ${Environment} for Application Insights"
            ),
            "ResourceQuery": cfn_value(resource_group_query(scope)),
        },
    )


def add_item(t: Template, item: Desired, ids: Mapping[tuple[Kind, str], str]) -> None:
    extra: dict[str, Any] = {}
    if item.depends_on:
        extra["DependsOn"] = [ids[(Kind.ALARM, key)] for key in item.depends_on]
    t.resource(ids[(item.kind, item.key)], _TYPES[item.kind], properties(item), **extra)


def add_outputs(t: Template) -> None:
    t.output(
        "AlarmTopicArn",
        Ref(TOPIC_ID),
        "SNS topic every paging alarm notifies",
        Export={"Name": Sub("${AWS::StackName}-AlarmTopicArn")},
    )
    t.output("AlarmTopicName", GetAtt(TOPIC_ID, "TopicName"), "Name of the alarm topic")


def build() -> Template:
    template = Template(
        "IaL phase 00c: enhanced observability - dashboards (operations, chaos, resilience), "
        "Logs Insights queries, alarms (static, anomaly band, composite, SLO burn rate) to SNS, "
        "X-Ray sampling rules and groups, Application Insights"
    )
    scope = Scope.cloudformation()
    add_parameters(template)
    add_topic(template, scope)
    add_resource_group(template, scope)
    items = [i for i in desired_state(scope, "${AlarmTopic}") if i.kind in _TYPES]
    ids = {(item.kind, item.key): logical_id(item) for item in items}
    for item in items:
        add_item(template, item, ids)
    add_outputs(template)
    return template

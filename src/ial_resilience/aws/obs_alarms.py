"""CloudWatch alarms: static thresholds, anomaly-detection bands and a composite alarm.

Every alarm's ``spec`` is the keyword arguments of ``PutMetricAlarm`` / ``PutCompositeAlarm``
(CloudFormation's ``AWS::CloudWatch::Alarm`` / ``CompositeAlarm`` use the same property names).
Alarms that page send to the SNS topic on ALARM and OK.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ial_resilience.aws.obs_model import AlarmKind, Desired, Kind
from ial_resilience.aws.obs_scope import BUSINESS_NAMESPACE, DEPLOYMENTS_FAILED, Scope

ELB = "AWS/ApplicationELB"
GREATER = "GreaterThanThreshold"
GREATER_OR_EQUAL = "GreaterThanOrEqualToThreshold"
LESS = "LessThanThreshold"


@dataclass(frozen=True)
class Threshold:
    """A static alarm: ``metric`` ``stat`` over ``period`` compared with ``value``;
    ``datapoints`` of the last ``evaluation`` periods must breach."""

    key: str
    description: str
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str
    comparison: str
    value: float
    period: int = 60
    evaluation: int = 5
    datapoints: int = 3
    missing: str = "notBreaching"


def actions(topic_arn: str) -> dict[str, Any]:
    return {"ActionsEnabled": True, "AlarmActions": [topic_arn], "OKActions": [topic_arn]}


def metric_stat(
    namespace: str, metric: str, dims: tuple[tuple[str, str], ...], stat: str, period: int
) -> dict[str, Any]:
    return {
        "Metric": {
            "Namespace": namespace,
            "MetricName": metric,
            "Dimensions": [{"Name": name, "Value": value} for name, value in dims],
        },
        "Period": period,
        "Stat": stat,
    }


def _statistic(stat: str) -> dict[str, Any]:
    return {"ExtendedStatistic": stat} if stat.startswith("p") else {"Statistic": stat}


def static_alarm(scope: Scope, topic_arn: str, t: Threshold) -> Desired:
    name = scope.name(t.key)
    spec = {
        "AlarmName": name,
        "AlarmDescription": t.description,
        **actions(topic_arn),
        "Namespace": t.namespace,
        "MetricName": t.metric,
        **(
            {"Dimensions": [{"Name": n, "Value": v} for n, v in t.dimensions]}
            if t.dimensions
            else {}
        ),
        **_statistic(t.stat),
        "Period": t.period,
        "EvaluationPeriods": t.evaluation,
        "DatapointsToAlarm": t.datapoints,
        "Threshold": float(t.value),
        "ComparisonOperator": t.comparison,
        "TreatMissingData": t.missing,
    }
    return Desired(Kind.ALARM, t.key, name, spec, AlarmKind.STATIC)


def thresholds(scope: Scope) -> tuple[Threshold, ...]:
    alb = (("LoadBalancer", scope.load_balancer),)
    ecs = (("ClusterName", scope.ecs_cluster), ("ServiceName", scope.ecs_service))
    aurora = (("DBClusterIdentifier", scope.aurora_cluster),)
    table = (("TableName", scope.dynamodb_table),)
    return (
        Threshold(
            "alb-5xx",
            "API answers 5xx: more than 10 per minute in 3 of 5 minutes",
            ELB,
            "HTTPCode_Target_5XX_Count",
            alb,
            "Sum",
            GREATER,
            10,
        ),
        Threshold(
            "alb-latency-p99",
            "API p99 latency above 1 s in 3 of 5 minutes",
            ELB,
            "TargetResponseTime",
            alb,
            "p99",
            GREATER,
            1.0,
        ),
        Threshold(
            "ecs-running-low",
            "Fewer than 2 API tasks running (missing data breaches)",
            "ECS/ContainerInsights",
            "RunningTaskCount",
            ecs,
            "Average",
            LESS,
            2,
            evaluation=2,
            datapoints=2,
            missing="breaching",
        ),
        Threshold(
            "ecs-cpu-high",
            "API tasks above 85 % CPU for 5 minutes",
            "AWS/ECS",
            "CPUUtilization",
            ecs,
            "Average",
            GREATER,
            85,
            evaluation=5,
            datapoints=5,
        ),
        Threshold(
            "aurora-replica-lag",
            "Aurora replica more than 1 s behind the writer",
            "AWS/RDS",
            "AuroraReplicaLag",
            aurora,
            "Maximum",
            GREATER,
            1000,
        ),
        Threshold(
            "aurora-connections",
            "Aurora connections above 800",
            "AWS/RDS",
            "DatabaseConnections",
            aurora,
            "Maximum",
            GREATER,
            800,
        ),
        Threshold(
            "dynamodb-throttles",
            "DynamoDB write throttling in 3 of 5 minutes",
            "AWS/DynamoDB",
            "WriteThrottleEvents",
            table,
            "Sum",
            GREATER_OR_EQUAL,
            1,
        ),
        Threshold(
            "backup-jobs-failed",
            "An AWS Backup job failed today",
            "AWS/Backup",
            "NumberOfBackupJobsFailed",
            (),
            "Sum",
            GREATER_OR_EQUAL,
            1,
            period=86400,
            evaluation=1,
            datapoints=1,
        ),
    )


def query_alarm(
    scope: Scope,
    topic_arn: str,
    key: str,
    description: str,
    query: str,
    period: int,
    comparison: str,
    value: float,
) -> Desired:
    """An alarm on a Metrics Insights query: sums every series of a metric, whatever its
    dimensions (the recorders emit one series per stack, check or experiment)."""
    name = scope.name(key)
    spec = {
        "AlarmName": name,
        "AlarmDescription": description,
        **actions(topic_arn),
        "Metrics": [{"Id": "q1", "Expression": query, "Period": period, "ReturnData": True}],
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "Threshold": float(value),
        "ComparisonOperator": comparison,
        "TreatMissingData": "notBreaching",
    }
    return Desired(Kind.ALARM, key, name, spec, AlarmKind.STATIC)


def deployments_failed(scope: Scope, topic_arn: str) -> Desired:
    query = f'SELECT SUM("{DEPLOYMENTS_FAILED}") FROM "{BUSINESS_NAMESPACE}"'
    return query_alarm(
        scope,
        topic_arn,
        "deployments-failed",
        "A deployment failed in the last 5 minutes (IaL/Business)",
        query,
        300,
        GREATER_OR_EQUAL,
        1,
    )


def anomaly_alarm(
    scope: Scope,
    topic_arn: str,
    key: str,
    description: str,
    stat: dict[str, Any],
    comparison: str,
    width: float = 2.0,
) -> Desired:
    """An alarm on the anomaly-detection band of one metric (the model is trained by AWS
    from the metric's history; ``width`` is the band in standard deviations)."""
    name = scope.name(key)
    spec = {
        "AlarmName": name,
        "AlarmDescription": description,
        **actions(topic_arn),
        "Metrics": [
            {"Id": "m1", "MetricStat": stat, "ReturnData": True},
            {
                "Id": "band",
                "Expression": f"ANOMALY_DETECTION_BAND(m1, {width:g})",
                "Label": "expected range",
                "ReturnData": True,
            },
        ],
        "ThresholdMetricId": "band",
        "EvaluationPeriods": 5,
        "DatapointsToAlarm": 3,
        "ComparisonOperator": comparison,
        "TreatMissingData": "notBreaching",
    }
    return Desired(Kind.ALARM, key, name, spec, AlarmKind.ANOMALY)


def anomaly_alarms(scope: Scope, topic_arn: str) -> tuple[Desired, ...]:
    alb = (("LoadBalancer", scope.load_balancer),)
    return (
        anomaly_alarm(
            scope,
            topic_arn,
            "alb-requests-anomaly",
            "API request count outside its expected band (traffic drop or surge)",
            metric_stat(ELB, "RequestCount", alb, "Sum", 300),
            "LessThanLowerOrGreaterThanUpperThreshold",
        ),
        anomaly_alarm(
            scope,
            topic_arn,
            "alb-latency-anomaly",
            "API p95 latency above its expected band",
            metric_stat(ELB, "TargetResponseTime", alb, "p95", 300),
            "GreaterThanUpperThreshold",
        ),
    )


def composite_alarm(
    scope: Scope, topic_arn: str, key: str, description: str, rule: str, children: tuple[str, ...]
) -> Desired:
    """``rule`` names children by key in ``{key}``; they become ``ALARM("<name>")``."""
    text = rule.format(**{child: f'ALARM("{scope.name(child)}")' for child in children})
    name = scope.name(key)
    spec = {
        "AlarmName": name,
        "AlarmDescription": description,
        **actions(topic_arn),
        "AlarmRule": text,
    }
    return Desired(Kind.COMPOSITE_ALARM, key, name, spec, AlarmKind.COMPOSITE, children)


def alarms(scope: Scope, topic_arn: str) -> tuple[Desired, ...]:
    """Static and anomaly alarms, then the composite ``api-degraded`` over three of them."""
    statics = tuple(static_alarm(scope, topic_arn, t) for t in thresholds(scope))
    degraded = composite_alarm(
        scope,
        topic_arn,
        "api-degraded",
        "API degraded: errors together with slow answers or too few tasks",
        "{alb-5xx} AND ({alb-latency-p99} OR {ecs-running-low})",
        ("alb-5xx", "alb-latency-p99", "ecs-running-low"),
    )
    failed = deployments_failed(scope, topic_arn)
    return (*statics, failed, *anomaly_alarms(scope, topic_arn), degraded)

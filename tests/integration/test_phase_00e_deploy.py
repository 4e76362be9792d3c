"""Phase 00e deployed against the session moto server, resource by resource.

moto's CloudFormation has no model for ``AWS::FIS::ExperimentTemplate`` or
``AWS::CloudWatch::Alarm`` (it warns "No Moto CloudFormation support" and skips them), so a
stack create there would prove nothing. Instead every resource the phase renders is created
with the API call its spec names, from the same builders with real names: the log group, the
stop-condition alarms, one IAM role per FIS action family (moto checks the policy documents),
each experiment template with ``CreateExperimentTemplate`` (botocore checks the request
against the FIS API model) and the dashboard. The ARNs the phase predicts for them (stop
conditions, roles, log group, dashboard alarm widget) must be the ARNs AWS gives back.
"""

from __future__ import annotations

import json
import uuid

from ial_resilience.aws import chaos_library, chaos_stack, fis_iam
from ial_resilience.aws._session import AwsTarget, client
from ial_resilience.aws.chaos_stack import ChaosScope
from tests.aws_fixtures import aws_env, moto_endpoint  # noqa: F401

ACCOUNT = "123456789012"  # moto's default account


def test_every_rendered_resource_is_created_through_its_api(aws_env: AwsTarget) -> None:  # noqa: F811
    scope = ChaosScope.for_environment(f"t{uuid.uuid4().hex[:8]}", aws_env.region or "", ACCOUNT)

    logs = client("logs", aws_env)
    group = chaos_stack.log_group(scope)
    logs.create_log_group(logGroupName=group["logGroupName"])
    logs.put_retention_policy(**group)
    described = logs.describe_log_groups(logGroupNamePrefix=group["logGroupName"])["logGroups"]
    assert described[0]["arn"] == scope.log_group_arn
    assert described[0]["retentionInDays"] == 30

    cloudwatch = client("cloudwatch", aws_env)
    alarms = chaos_stack.stop_alarms(scope)
    for alarm in alarms:
        cloudwatch.put_metric_alarm(**alarm.spec)
    found = cloudwatch.describe_alarms(AlarmNames=[a.name for a in alarms])["MetricAlarms"]
    assert sorted(a["AlarmArn"] for a in found) == sorted(scope.alarm_arn(a.name) for a in alarms)
    assert all(a["AlarmActions"] == [] for a in found)

    refs = chaos_library.Refs(
        role_arn=scope.role_arn,
        alarm_arn=lambda alarm: scope.alarm_arn(alarm.name),
        log_group_arn=scope.log_group_arn,
    )
    plan = chaos_library.plan(scope, alarms, refs)
    assert plan.templates, "the library has experiments FIS can run"

    iam = client("iam", aws_env)
    for family, actions in plan.families.items():
        role = iam.create_role(
            RoleName=scope.role_name(family),
            AssumeRolePolicyDocument=json.dumps(fis_iam.trust_policy(scope.arns)),
        )["Role"]
        assert role["Arn"] == scope.role_arn(family)
        policy = fis_iam.role_policy(family, actions, scope.tag_value, scope.arns)
        iam.put_role_policy(
            RoleName=scope.role_name(family),
            PolicyName=f"fis-{family}",
            PolicyDocument=json.dumps(policy),
        )

    fis = client("fis", aws_env)
    for planned in plan.templates:
        created = fis.create_experiment_template(**planned.body)["experimentTemplate"]
        stored = fis.get_experiment_template(id=created["id"])["experimentTemplate"]
        assert stored["roleArn"] == scope.role_arn(planned.family)
        assert [c["value"] for c in stored["stopConditions"]] == [
            scope.alarm_arn(a.name) for a in alarms
        ]
        assert stored["logConfiguration"]["cloudWatchLogsConfiguration"] == {
            "logGroupArn": scope.log_group_arn
        }
        assert stored["tags"]["ialr:library"] == planned.path
        for target in stored["targets"].values():
            assert target["resourceTags"][fis_iam.TAG_KEY] == scope.tag_value

    board = chaos_stack.dashboard(scope, alarms)
    cloudwatch.put_dashboard(**board.spec)
    body = json.loads(cloudwatch.get_dashboard(DashboardName=board.name)["DashboardBody"])
    shown = body["widgets"][0]["properties"]["alarms"]
    assert set(shown) == {a["AlarmArn"] for a in found} and len(shown) == len(alarms)

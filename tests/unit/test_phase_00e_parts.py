"""Phase 00e's pure parts: least-privilege FIS policies, the API -> CloudFormation casing of
experiment templates, stop-condition alarms and the chaos dashboard."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ial_resilience.aws import chaos_stack, fis_cfn, fis_iam
from ial_resilience.aws.chaos_stack import ChaosScope
from ial_resilience.errors import ExitCode, InputError

REAL = fis_iam.Arns("aws", "us-east-1", "123456789012")


def _by_sid(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy["Statement"]}


def test_tag_scoped_actions_get_a_resource_tag_condition() -> None:
    policy = fis_iam.role_policy(
        "process", ["ecs:StopTask", "ecs:DescribeTasks", "ecs:ListTasks"], "enabled", REAL
    )
    statements = _by_sid(policy)
    tagged = statements["TaggedTargets1"]
    assert tagged["Action"] == ["ecs:StopTask"]
    assert tagged["Resource"] == ["arn:aws:ecs:us-east-1:123456789012:task/*"]
    assert tagged["Condition"] == {"StringEquals": {"aws:ResourceTag/ialr-chaos": "enabled"}}
    assert statements["NoResourceLevelPermissions"]["Action"] == [
        "ecs:DescribeTasks",
        "ecs:ListTasks",
    ]
    assert "ExperimentLogDelivery" in statements
    every_action = [a for s in policy["Statement"] for a in s["Action"]]
    assert all("*" not in action for action in every_action)


def test_send_command_is_scoped_to_tagged_instances_and_fis_documents() -> None:
    statements = _by_sid(
        fis_iam.role_policy("resource", ["ssm:SendCommand", "ssm:ListCommands"], "on", REAL)
    )
    assert (
        "arn:aws:ssm:us-east-1:123456789012:managed-instance/*"
        in (statements["TaggedTargets1"]["Resource"])
    )
    assert statements["FisSsmDocuments"]["Resource"] == ["arn:aws:ssm:us-east-1::document/AWSFIS-*"]


@pytest.mark.parametrize("action", ["*", "ec2:*", "ecs:Stop*"])
def test_a_wildcard_action_is_a_render_time_error(action: str) -> None:
    with pytest.raises(InputError, match="is a wildcard") as raised:
        fis_iam.role_policy("network", ["ec2:DescribeInstances", action], "on", REAL)
    assert raised.value.exit_code == ExitCode.INVALID_INPUT
    assert "network" in str(raised.value)


def test_an_action_that_cannot_be_scoped_is_refused() -> None:
    with pytest.raises(InputError, match="no tag-scoped resource is known"):
        fis_iam.role_policy("network", ["ec2:DeleteVpc"], "on", REAL)


def test_trust_policy_limits_fis_to_this_account() -> None:
    trust = fis_iam.trust_policy(REAL)["Statement"][0]
    assert trust["Principal"] == {"Service": "fis.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}


BODY: dict[str, Any] = {
    "clientToken": "x",
    "description": "latency to the database",
    "roleArn": "arn:aws:iam::123456789012:role/r",
    "targets": {
        "db-link": {
            "resourceType": "aws:ecs:task",
            "resourceTags": {"ialr-chaos": "enabled"},
            "filters": [{"path": "ClusterName", "values": ["c"]}],
            "selectionMode": "COUNT(1)",
            "parameters": {"cluster": "c"},
        }
    },
    "actions": {
        "latency-1": {
            "actionId": "aws:ecs:task-network-latency",
            "parameters": {"duration": "PT8S", "delayMilliseconds": "100"},
            "targets": {"Tasks": "db-link"},
            "startAfter": [],
        }
    },
    "stopConditions": [{"source": "aws:cloudwatch:alarm", "value": "arn:x"}],
    "logConfiguration": {
        "cloudWatchLogsConfiguration": {"logGroupArn": "arn:l"},
        "logSchemaVersion": 2,
    },
    "experimentOptions": {"emptyTargetResolutionMode": "fail"},
    "tags": {"ialr:experiment": "network/db-latency.yaml"},
}


def test_api_body_becomes_cloudformation_properties() -> None:
    props = fis_cfn.properties(BODY)
    assert "ClientToken" not in props and "clientToken" not in props
    target = props["Targets"]["db-link"]
    assert target["ResourceTags"] == {"ialr-chaos": "enabled"}  # user keys kept
    assert target["Filters"] == [{"Path": "ClusterName", "Values": ["c"]}]
    assert target["Parameters"] == {"cluster": "c"}
    action = props["Actions"]["latency-1"]
    assert action["Targets"] == {"Tasks": "db-link"}
    assert action["Parameters"]["delayMilliseconds"] == "100"
    assert props["StopConditions"] == [{"Source": "aws:cloudwatch:alarm", "Value": "arn:x"}]
    assert props["LogConfiguration"] == {
        "CloudWatchLogsConfiguration": {"LogGroupArn": "arn:l"},
        "LogSchemaVersion": 2,
    }
    assert props["ExperimentOptions"] == {"EmptyTargetResolutionMode": "fail"}
    assert props["Tags"] == {"ialr:experiment": "network/db-latency.yaml"}


def test_an_unknown_api_field_is_not_copied_silently() -> None:
    with pytest.raises(ValueError, match="no CloudFormation mapping for futureField"):
        fis_cfn.properties({**BODY, "futureField": 1}, where="x.yaml")


def test_stop_alarms_reuse_the_paging_definitions_without_actions() -> None:
    scope = ChaosScope.for_environment("prod")
    alarms = chaos_stack.stop_alarms(scope)
    names = [alarm.name for alarm in alarms]
    assert names[:3] == [
        "ialr-prod-chaos-stop-alb-5xx",
        "ialr-prod-chaos-stop-alb-latency-p99",
        "ialr-prod-chaos-stop-ecs-running-low",
    ]
    assert names[3].startswith("ialr-prod-chaos-stop-slo-api-availability-")
    assert len(alarms) <= chaos_stack.MAX_STOP_CONDITIONS
    for alarm in alarms:
        assert not {"AlarmActions", "OKActions", "ActionsEnabled"} & set(alarm.spec)
    burn = alarms[3].spec
    assert burn["Threshold"] == 14.4 and burn["Metrics"][2]["Id"] == "burn"


def test_bad_log_retention_is_invalid_input() -> None:
    with pytest.raises(InputError, match="not one CloudWatch Logs offers"):
        ChaosScope.for_environment(log_retention_days=45)


def test_dashboard_shows_stop_alarms_fis_log_and_app_metrics() -> None:
    scope = ChaosScope.for_environment("prod")
    alarms = chaos_stack.stop_alarms(scope)
    body = json.loads(chaos_stack.dashboard(scope, alarms).spec["DashboardBody"])
    widgets = body["widgets"]
    assert widgets[0]["properties"]["alarms"] == [
        f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{a.name}" for a in alarms
    ]
    logs = [w for w in widgets if w["type"] == "log"]
    assert all("/aws/vendedlogs/fis/ialr-prod" in w["properties"]["query"] for w in logs)
    titles = {w["properties"]["title"] for w in widgets}
    assert {"Experiment results (IaL/Chaos)", "ECS running tasks", "Aurora connections"} <= titles
    positions = {(w["x"], w["y"]) for w in widgets}
    assert len(positions) == len(widgets)  # no two widgets overlap


def test_every_fis_family_is_either_scoped_or_refused_by_name() -> None:
    from ial_resilience.aws.fis_actions import all_actions

    families: dict[str, set[str]] = {}
    for action in all_actions():
        families.setdefault(action.family, set()).update(action.iam_actions)
    rendered, refused = set(), set()
    for family, actions in families.items():
        try:
            policy = fis_iam.role_policy(family, actions, "on", REAL)
        except InputError as error:
            assert f"FIS action family {family!r}" in str(error)
            refused.add(family)
            continue
        granted = {a for s in policy["Statement"] for a in s["Action"]}
        assert actions <= granted and all("*" not in a for a in granted)
        rendered.add(family)
    # what the library uses must render (docs/PHASE_00E.md names the two that do not yet)
    assert {"ecs", "rds"} <= rendered and refused <= {"network", "api"}

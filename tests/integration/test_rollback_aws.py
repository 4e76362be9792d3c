"""The AWS rollback executors against the session moto server, for what moto models.

moto completes stack operations at once and implements neither CancelUpdateStack nor
RollbackStack; it records an ECS service's task definition on UpdateService but keeps the
PRIMARY deployment on the creation revision. The in-progress transitions are in
tests/unit/test_rollback_aws.py (scripted client at the boto3 boundary).
"""

from __future__ import annotations

import json
import uuid

import pytest

from ial_resilience.aws._session import AwsNotFound, AwsTarget, client
from ial_resilience.errors import ExitCode
from ial_resilience.rollback import Phase, RollbackError, RollbackRefused
from ial_resilience.rollback.aws_cfn import CloudFormationExecutor, rollback_triggers
from ial_resilience.rollback.aws_ecs import EcsExecutor
from tests.aws_fixtures import aws_env, moto_endpoint  # noqa: F401

TEMPLATE = {
    "Parameters": {"Version": {"Type": "String"}},
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
}


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _alarm(target: AwsTarget, name: str) -> str:
    cloudwatch = client("cloudwatch", target)
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    return str(cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"])


def test_stack_deployed_with_rollback_triggers_is_stable_and_refuses_rollback(
    aws_env: AwsTarget,  # noqa: F811
) -> None:
    stack = _name("app")
    config = rollback_triggers([_alarm(aws_env, _name("alb-5xx"))], 10)
    cfn = client("cloudformation", aws_env)
    version = [{"ParameterKey": "Version", "ParameterValue": "v1"}]
    cfn.create_stack(
        StackName=stack,
        TemplateBody=json.dumps(TEMPLATE),
        Parameters=version,
        RollbackConfiguration=config,
    )
    version[0]["ParameterValue"] = "v2"
    cfn.update_stack(
        StackName=stack,
        TemplateBody=json.dumps(TEMPLATE),
        Parameters=version,
        RollbackConfiguration=config,
    )
    executor = CloudFormationExecutor(aws_env, stack, poll_interval=0.05)
    state = executor.state()
    assert (state.phase, state.version, state.detail) == (Phase.STABLE, "v2", "UPDATE_COMPLETE")
    with pytest.raises(RollbackRefused, match="cannot roll back from UPDATE_COMPLETE"):
        executor.rollback("alb-5xx fired", timeout=1)
    assert executor.state().detail == "UPDATE_COMPLETE"  # nothing changed


def test_missing_stack_is_not_found(aws_env: AwsTarget) -> None:  # noqa: F811
    executor = CloudFormationExecutor(aws_env, _name("nothing"))
    with pytest.raises(AwsNotFound, match="does not exist") as raised:
        executor.state()
    assert raised.value.exit_code == ExitCode.INVALID_INPUT


def _service(target: AwsTarget, revisions: int, monkeypatch: pytest.MonkeyPatch) -> EcsExecutor:
    ecs = client("ecs", target)
    cluster, family = _name("cluster"), _name("api")
    ecs.create_cluster(clusterName=cluster)
    for revision in range(revisions):
        ecs.register_task_definition(
            family=family,
            containerDefinitions=[{"name": "api", "image": f"api:{revision}", "memory": 128}],
        )
    # moto reads the running count when the service is created (rollout COMPLETED)
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "2")
    ecs.create_service(
        cluster=cluster, serviceName="api", taskDefinition=f"{family}:1", desiredCount=2
    )
    return EcsExecutor(target, cluster, "api", poll_interval=0.05)


def test_ecs_deploy_then_rollback_to_the_previous_revision(
    aws_env: AwsTarget,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    executor = _service(aws_env, 2, monkeypatch)
    family = executor.state().version.split(":")[0]  # type: ignore[union-attr]
    assert executor.state().phase is Phase.STABLE
    deployed = executor.deploy(f"{family}:2")
    assert (deployed.version, deployed.previous, deployed.phase) == (
        f"{family}:2",
        f"{family}:1",
        Phase.ROLLING_OUT,
    )
    # moto's PRIMARY deployment never left revision 1, so this rollback completes at once
    outcome = executor.rollback("canary errors", timeout=2)
    assert outcome.ok and outcome.state.phase is Phase.ROLLED_BACK
    assert (outcome.state.version, outcome.state.previous) == (f"{family}:1", f"{family}:2")
    assert executor.state().phase is Phase.STABLE


def test_ecs_rollback_not_reached_in_time_raises_with_state(
    aws_env: AwsTarget,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    executor = _service(aws_env, 3, monkeypatch)
    family = executor.state().version.split(":")[0]  # type: ignore[union-attr]
    executor.deploy(f"{family}:3")
    # rolls back to revision 2, which moto's PRIMARY deployment (revision 1) never runs
    with pytest.raises(RollbackError, match=f"not rolled back to {family}:2") as raised:
        executor.rollback("canary errors", timeout=0.3)
    assert raised.value.state.phase is Phase.ROLLING_BACK
    assert raised.value.state.version == f"{family}:2"


def test_ecs_without_a_previous_revision_is_refused(
    aws_env: AwsTarget,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    executor = _service(aws_env, 1, monkeypatch)
    with pytest.raises(RollbackRefused, match="no previous task definition") as raised:
        executor.rollback("x", timeout=1)
    assert raised.value.exit_code == ExitCode.REFUSED
    assert raised.value.state.phase is Phase.STABLE


def test_ecs_circuit_breaker_is_recorded(
    aws_env: AwsTarget,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    executor = _service(aws_env, 1, monkeypatch)
    config = executor.enable_circuit_breaker()
    assert config["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}


def test_ecs_unknown_service_and_task_definition_are_not_found(
    aws_env: AwsTarget,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    executor = _service(aws_env, 1, monkeypatch)
    with pytest.raises(AwsNotFound, match="not registered"):
        executor.deploy("nothing:9")
    with pytest.raises(AwsNotFound, match="not found"):
        EcsExecutor(aws_env, executor.cluster, "nothing").state()
    with pytest.raises(AwsNotFound, match="not found"):
        EcsExecutor(aws_env, _name("no-cluster"), "api").state()

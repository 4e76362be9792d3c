"""AWS rollback executors: status mapping, rollback triggers, circuit breaker, and the
in-progress transitions moto does not model (CancelUpdateStack, RollbackStack, an ECS primary
deployment replaced), played by a scripted client at the boto3 boundary."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ial_resilience.aws._session import AwsTarget
from ial_resilience.errors import ExitCode, InputError
from ial_resilience.rollback import Phase, RollbackError, RollbackRefused
from ial_resilience.rollback.aws_cfn import CloudFormationExecutor, phase_of, rollback_triggers
from ial_resilience.rollback.aws_ecs import EcsExecutor, circuit_breaker_config, revision_of
from ial_resilience.rollback.aws_ecs import phase_of as ecs_phase_of

TARGET = AwsTarget(region="us-east-1", endpoint_url="http://127.0.0.1:9")
ALARM = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:ialr-prod-alb-5xx"


class ScriptedStacks:
    """describe_stacks answers the scripted statuses in turn (the last one repeats)."""

    def __init__(self, statuses: Iterable[str], fail: dict[str, str] | None = None) -> None:
        self.statuses = list(statuses)
        self.calls: list[str] = []
        self.fail = fail or {}

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return {"Stacks": [{"StackName": StackName, "StackStatus": status, "Parameters": []}]}

    def _act(self, name: str) -> dict[str, Any]:
        self.calls.append(name)
        if name in self.fail:
            error = {"Error": {"Code": "ValidationError", "Message": self.fail[name]}}
            raise ClientError(error, name)  # type: ignore[arg-type]
        return {}

    def cancel_update_stack(self, StackName: str) -> dict[str, Any]:
        return self._act("cancel_update_stack")

    def rollback_stack(self, StackName: str) -> dict[str, Any]:
        return self._act("rollback_stack")


def _cfn(api: ScriptedStacks) -> CloudFormationExecutor:
    return CloudFormationExecutor(TARGET, "app", poll_interval=0.01, api=api)


@pytest.mark.parametrize(
    ("status", "phase"),
    [
        ("UPDATE_IN_PROGRESS", Phase.ROLLING_OUT),
        ("UPDATE_ROLLBACK_IN_PROGRESS", Phase.ROLLING_BACK),
        ("UPDATE_ROLLBACK_COMPLETE", Phase.ROLLED_BACK),
        ("UPDATE_ROLLBACK_FAILED", Phase.FAILED),
        ("UPDATE_COMPLETE", Phase.STABLE),
        ("ROLLBACK_COMPLETE", Phase.ROLLED_BACK),
        ("DELETE_IN_PROGRESS", Phase.UNKNOWN),
    ],
)
def test_stack_status_maps_to_a_phase(status: str, phase: Phase) -> None:
    assert phase_of(status) is phase


def test_cancel_while_update_in_progress_waits_for_the_rollback() -> None:
    api = ScriptedStacks(
        ["UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE"]
    )
    outcome = _cfn(api).rollback("alb-5xx fired", timeout=5)
    assert api.calls == ["cancel_update_stack"]
    assert outcome.ok and outcome.state.phase is Phase.ROLLED_BACK
    assert "CancelUpdateStack (alb-5xx fired)" in outcome.detail


def test_failed_update_is_rolled_back_with_rollback_stack() -> None:
    api = ScriptedStacks(
        ["UPDATE_FAILED", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE"]
    )
    assert _cfn(api).rollback("canary failed", timeout=5).ok
    assert api.calls == ["rollback_stack"]


def test_rollback_already_in_progress_is_followed_without_a_call() -> None:
    api = ScriptedStacks(["UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE"])
    assert _cfn(api).rollback("trigger", timeout=5).state.phase is Phase.ROLLED_BACK
    assert api.calls == []


def test_a_rollback_that_fails_raises_with_the_state() -> None:
    api = ScriptedStacks(["UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_FAILED"])
    with pytest.raises(RollbackError) as raised:
        _cfn(api).rollback("trigger", timeout=5)
    assert raised.value.state.phase is Phase.FAILED
    assert raised.value.exit_code == ExitCode.PROVIDER_ERROR


def test_a_slow_rollback_times_out_with_the_last_state() -> None:
    api = ScriptedStacks(["UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS"])
    with pytest.raises(RollbackError, match="still UPDATE_ROLLBACK_IN_PROGRESS") as raised:
        _cfn(api).rollback("trigger", timeout=0.05)
    assert raised.value.state.phase is Phase.ROLLING_BACK


def test_cancel_refused_by_aws_reports_the_status_it_moved_to() -> None:
    api = ScriptedStacks(
        ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"],
        fail={
            "cancel_update_stack": "CancelUpdateStack cannot be called from current stack status"
        },
    )
    with pytest.raises(RollbackError, match="stack now UPDATE_COMPLETE") as raised:
        _cfn(api).rollback("trigger", timeout=5)
    assert raised.value.state.phase is Phase.STABLE


@pytest.mark.parametrize(
    ("status", "hint"),
    [
        ("UPDATE_ROLLBACK_FAILED", "continue-update-rollback"),
        ("UPDATE_COMPLETE", "deploy the previous template"),
        ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "deploy the previous template"),
    ],
)
def test_states_that_cannot_roll_back_are_refused_before_any_call(status: str, hint: str) -> None:
    api = ScriptedStacks([status])
    with pytest.raises(RollbackRefused) as raised:
        _cfn(api).rollback("trigger", timeout=5)
    assert raised.value.exit_code == ExitCode.REFUSED
    assert hint in raised.value.hint and api.calls == []
    assert raised.value.state.detail == status


def test_rollback_triggers_build_the_rollback_configuration() -> None:
    composite = ALARM.replace("alb-5xx", "api-degraded")
    config = rollback_triggers([ALARM], 15, composite_arns=[composite])
    assert config == {
        "RollbackTriggers": [
            {"Arn": ALARM, "Type": "AWS::CloudWatch::Alarm"},
            {"Arn": composite, "Type": "AWS::CloudWatch::CompositeAlarm"},
        ],
        "MonitoringTimeInMinutes": 15,
    }


@pytest.mark.parametrize(
    ("arns", "minutes", "message"),
    [
        ([ALARM], 181, "from 0 to 180"),
        ([ALARM], -1, "from 0 to 180"),
        ([f"{ALARM}-{i}" for i in range(6)], 5, "at most 5"),
        (["ialr-prod-alb-5xx"], 5, "not a CloudWatch alarm ARN"),
        ([ALARM, ALARM], 5, "given twice"),
        (ALARM, 5, "not one string"),
    ],
)
def test_bad_rollback_triggers_are_invalid_input(arns: Any, minutes: int, message: str) -> None:
    with pytest.raises(InputError, match=message) as raised:
        rollback_triggers(arns, minutes)
    assert raised.value.exit_code == ExitCode.INVALID_INPUT


# --- ECS ---------------------------------------------------------------------------------

TD = "arn:aws:ecs:us-east-1:123456789012:task-definition/api:{}"


def _deployment(status: str, revision: int, rollout: str, created: str = "1") -> dict[str, Any]:
    return {
        "status": status,
        "taskDefinition": TD.format(revision),
        "rolloutState": rollout,
        "createdAt": created,
        "desiredCount": 2,
        "runningCount": 2 if rollout == "COMPLETED" else 1,
    }


def _service(revision: int, *deployments: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": "ACTIVE",
        "taskDefinition": TD.format(revision),
        "deployments": list(deployments),
    }


class ScriptedService:
    def __init__(self, answers: list[dict[str, Any]]) -> None:
        self.answers = answers
        self.updates: list[dict[str, Any]] = []

    def describe_services(self, cluster: str, services: list[str]) -> dict[str, Any]:
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return {"services": [answer], "failures": []}

    def update_service(self, **kwargs: Any) -> dict[str, Any]:
        self.updates.append(kwargs)
        return {"service": {}}


def test_revision_of_arn_and_short_name() -> None:
    assert revision_of(TD.format(7)) == "api:7"
    assert revision_of("api:7") == "api:7"


def test_ecs_phases_from_deployments() -> None:
    stable = _service(1, _deployment("PRIMARY", 1, "COMPLETED"))
    rolling = _service(
        2, _deployment("PRIMARY", 2, "IN_PROGRESS", "2"), _deployment("ACTIVE", 1, "COMPLETED")
    )
    breaker = _service(
        1, _deployment("PRIMARY", 1, "IN_PROGRESS", "3"), _deployment("ACTIVE", 2, "FAILED", "2")
    )
    failed = _service(2, _deployment("PRIMARY", 2, "FAILED"))
    assert ecs_phase_of(stable)[0] is Phase.STABLE
    assert ecs_phase_of(rolling)[0] is Phase.ROLLING_OUT
    assert ecs_phase_of(breaker)[0] is Phase.ROLLING_BACK
    assert ecs_phase_of(failed)[0] is Phase.FAILED


def test_ecs_rollback_waits_until_the_primary_runs_the_previous_revision() -> None:
    api = ScriptedService(
        [
            _service(
                2,
                _deployment("PRIMARY", 2, "IN_PROGRESS", "2"),
                _deployment("ACTIVE", 1, "COMPLETED"),
            ),
            _service(
                1,
                _deployment("PRIMARY", 1, "IN_PROGRESS", "3"),
                _deployment("ACTIVE", 2, "IN_PROGRESS", "2"),
            ),
            _service(1, _deployment("PRIMARY", 1, "COMPLETED", "3")),
        ]
    )
    executor = EcsExecutor(TARGET, "c", "api", poll_interval=0.01, api=api)
    outcome = executor.rollback("p99 burn", timeout=5)
    assert api.updates == [{"cluster": "c", "service": "api", "taskDefinition": "api:1"}]
    assert outcome.state.phase is Phase.ROLLED_BACK
    assert (outcome.state.version, outcome.state.previous) == ("api:1", "api:2")


def test_ecs_rollback_that_fails_raises_with_a_failed_state() -> None:
    api = ScriptedService(
        [
            _service(
                2,
                _deployment("PRIMARY", 2, "IN_PROGRESS", "2"),
                _deployment("ACTIVE", 1, "COMPLETED"),
            ),
            _service(1, _deployment("PRIMARY", 1, "FAILED", "3")),
        ]
    )
    with pytest.raises(RollbackError) as raised:
        EcsExecutor(TARGET, "c", "api", poll_interval=0.01, api=api).rollback("x", timeout=5)
    assert raised.value.state.phase is Phase.FAILED


def test_circuit_breaker_config_enables_rollback() -> None:
    config = circuit_breaker_config()
    assert config["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    with pytest.raises(InputError, match="out of range"):
        circuit_breaker_config(maximum_percent=250)

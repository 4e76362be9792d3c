"""Roll a CloudFormation stack back (docs/INTERFACES.md §10).

The stack status decides what a rollback is, before anything is changed:

=================================  ===========================================================
status                             rollback
=================================  ===========================================================
``UPDATE_IN_PROGRESS``             ``CancelUpdateStack``; CloudFormation rolls the update back
``UPDATE_FAILED``/``CREATE_FAILED`` ``RollbackStack`` (a stack deployed with rollback disabled)
``*ROLLBACK_IN_PROGRESS``          nothing to call: wait for CloudFormation's own rollback
``UPDATE_ROLLBACK_COMPLETE`` …     already rolled back: an ``ok`` outcome, nothing changed
anything else                      :class:`RollbackRefused` (exit 4): ``UPDATE_ROLLBACK_FAILED``
                                   needs ``continue-update-rollback`` by hand, a stable stack
                                   has nothing to roll back to
=================================  ===========================================================

``rollback`` then polls ``DescribeStacks`` until a final status or the timeout.
:func:`rollback_triggers` builds the ``RollbackConfiguration`` that ``CreateStack`` /
``UpdateStack`` take, so CloudFormation itself rolls back when one of the alarms fires.

moto (the tests' AWS) creates and updates stacks at once and implements neither
``CancelUpdateStack`` nor ``RollbackStack`` (its server answers 500), so the in-progress
transitions are tested with a scripted client at the boto3 boundary; states, refusals, a
missing stack and the rollback configuration are tested against the moto server.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from ial_resilience.aws._session import AwsError, AwsNotFound, AwsTarget, aws_call, client
from ial_resilience.errors import InputError
from ial_resilience.rollback.model import (
    DeploymentState,
    Phase,
    RollbackError,
    RollbackOutcome,
    RollbackRefused,
)

NAME = "cloudformation"
MAX_TRIGGERS = 5  # botocore model: RollbackTriggers max 5
MAX_MONITORING_MINUTES = 180
ALARM_ARN = re.compile(r"^arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:[^\s]+$")

_PHASES: dict[str, Phase] = {
    "CREATE_COMPLETE": Phase.STABLE,
    "UPDATE_COMPLETE": Phase.STABLE,
    "IMPORT_COMPLETE": Phase.STABLE,
    "CREATE_IN_PROGRESS": Phase.ROLLING_OUT,
    "UPDATE_IN_PROGRESS": Phase.ROLLING_OUT,
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS": Phase.ROLLING_OUT,
    "REVIEW_IN_PROGRESS": Phase.ROLLING_OUT,
    "IMPORT_IN_PROGRESS": Phase.ROLLING_OUT,
    "ROLLBACK_IN_PROGRESS": Phase.ROLLING_BACK,
    "UPDATE_ROLLBACK_IN_PROGRESS": Phase.ROLLING_BACK,
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS": Phase.ROLLING_BACK,
    "IMPORT_ROLLBACK_IN_PROGRESS": Phase.ROLLING_BACK,
    "ROLLBACK_COMPLETE": Phase.ROLLED_BACK,
    "UPDATE_ROLLBACK_COMPLETE": Phase.ROLLED_BACK,
    "IMPORT_ROLLBACK_COMPLETE": Phase.ROLLED_BACK,
    "CREATE_FAILED": Phase.FAILED,
    "UPDATE_FAILED": Phase.FAILED,
    "ROLLBACK_FAILED": Phase.FAILED,
    "UPDATE_ROLLBACK_FAILED": Phase.FAILED,
    "IMPORT_ROLLBACK_FAILED": Phase.FAILED,
    "DELETE_FAILED": Phase.FAILED,
}
CANCEL_FROM = frozenset({"UPDATE_IN_PROGRESS"})
ROLLBACK_STACK_FROM = frozenset({"UPDATE_FAILED", "CREATE_FAILED"})
_REFUSALS = {
    "UPDATE_ROLLBACK_FAILED": (
        "its last rollback failed; CloudFormation cannot roll it back again",
        "fix the resources named in the stack events, then run `aws cloudformation "
        "continue-update-rollback --stack-name STACK`",
    ),
    "ROLLBACK_FAILED": (
        "its creation failed and so did the rollback",
        "delete the stack (`aws cloudformation delete-stack`) and create it again",
    ),
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS": (
        "the update already succeeded (old resources are being cleaned up)",
        "deploy the previous template as a new update to go back",
    ),
}


def phase_of(status: str) -> Phase:
    """The deployment phase of a CloudFormation stack status."""
    return _PHASES.get(status, Phase.UNKNOWN)


def is_final(status: str) -> bool:
    return not status.endswith("_IN_PROGRESS")


def rollback_triggers(
    alarm_arns: Sequence[str],
    monitoring_minutes: int = 10,
    *,
    composite_arns: Sequence[str] = (),
) -> dict[str, Any]:
    """The ``RollbackConfiguration`` of ``CreateStack``/``UpdateStack``: CloudFormation rolls
    the stack operation back when one of the alarms goes to ALARM during the operation or the
    ``monitoring_minutes`` after it (0–180). At most 5 alarms (the API's limit)."""
    if isinstance(alarm_arns, str) or isinstance(composite_arns, str):
        raise InputError(
            "rollback triggers take a list of alarm ARNs, not one string",
            hint="pass [ARN, …]",
        )
    if (
        isinstance(monitoring_minutes, bool)
        or not isinstance(monitoring_minutes, int)
        or not 0 <= monitoring_minutes <= MAX_MONITORING_MINUTES
    ):
        raise InputError(
            f"rollback monitoring time {monitoring_minutes!r} is not a whole number of minutes "
            f"from 0 to {MAX_MONITORING_MINUTES}",
            hint="CloudFormation watches the alarms for at most 180 minutes after an update",
        )
    typed = [(arn, "AWS::CloudWatch::Alarm") for arn in alarm_arns]
    typed += [(arn, "AWS::CloudWatch::CompositeAlarm") for arn in composite_arns]
    if len(typed) > MAX_TRIGGERS:
        raise InputError(
            f"{len(typed)} rollback triggers given; CloudFormation takes at most {MAX_TRIGGERS}",
            hint="join alarms into one composite alarm and pass it with composite_arns",
        )
    seen: set[str] = set()
    for arn, _type in typed:
        if not isinstance(arn, str) or not ALARM_ARN.match(arn):
            raise InputError(
                f"rollback trigger {arn!r} is not a CloudWatch alarm ARN",
                hint="use arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME (DescribeAlarms gives it)",
            )
        if arn in seen:
            raise InputError(f"rollback trigger {arn} is given twice", hint="name each alarm once")
        seen.add(arn)
    return {
        "RollbackTriggers": [{"Arn": arn, "Type": type_} for arn, type_ in typed],
        "MonitoringTimeInMinutes": monitoring_minutes,
    }


class CloudFormationExecutor:
    """Rolls back one stack. ``version_parameter``: a stack parameter that names the deployed
    version (``Version`` by default); without it the version is the stack's last change time.
    ``api`` replaces the boto3 client (tests of transitions moto does not model)."""

    name = NAME

    def __init__(
        self,
        target: AwsTarget,
        stack_name: str,
        *,
        poll_interval: float = 5.0,
        version_parameter: str = "Version",
        api: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not stack_name:
            raise InputError("no stack name given", hint="name the CloudFormation stack")
        self.target = target
        self.stack_name = stack_name
        self.poll_interval = poll_interval
        self.version_parameter = version_parameter
        self._api = api
        self._clock = clock

    rollback_triggers = staticmethod(rollback_triggers)

    @property
    def api(self) -> Any:
        if self._api is None:
            self._api = client("cloudformation", self.target)
        return self._api

    def describe(self) -> dict[str, Any]:
        """The stack as ``DescribeStacks`` gives it; a missing stack is :class:`AwsNotFound`."""
        try:
            with aws_call(f"describe stack {self.stack_name}", self.target):
                stacks = self.api.describe_stacks(StackName=self.stack_name)["Stacks"]
        except AwsError as error:
            if error.code == "ValidationError" and "does not exist" in str(error):
                raise AwsNotFound(
                    f"stack {self.stack_name} does not exist in {self.target.describe()}",
                    code=error.code,
                    hint="check the stack name and the region (--region)",
                ) from error
            raise
        if not stacks:
            raise AwsNotFound(f"stack {self.stack_name} does not exist", hint="check the name")
        return dict(stacks[0])

    def state(self) -> DeploymentState:
        return self._state_of(self.describe())

    def _state_of(self, stack: dict[str, Any]) -> DeploymentState:
        status = str(stack.get("StackStatus", ""))
        reason = stack.get("StackStatusReason")
        return DeploymentState(
            executor=NAME,
            target=self.stack_name,
            version=self._version(stack),
            previous=None,
            phase=phase_of(status),
            detail=f"{status}: {reason}" if reason else status,
        )

    def _version(self, stack: dict[str, Any]) -> str | None:
        for parameter in stack.get("Parameters", []):
            if parameter.get("ParameterKey") == self.version_parameter:
                return str(parameter.get("ParameterValue"))
        changed = stack.get("LastUpdatedTime") or stack.get("CreationTime")
        return changed.isoformat() if isinstance(changed, datetime) else None

    def rollback(self, reason: str, *, timeout: float = 1800.0) -> RollbackOutcome:
        """Roll the stack back (see the module docstring); blocks until a final status."""
        started = self._clock()
        stack = self.describe()
        status = str(stack.get("StackStatus", ""))
        state = self._state_of(stack)
        if state.phase is Phase.ROLLED_BACK:
            return RollbackOutcome(True, state, started, self._clock(), f"already {status}")
        if status in CANCEL_FROM:
            self._call("cancel the update of", "cancel_update_stack", state)
            how = "CancelUpdateStack"
        elif status in ROLLBACK_STACK_FROM:
            self._call("roll back", "rollback_stack", state)
            how = "RollbackStack"
        elif state.phase is Phase.ROLLING_BACK:
            how = "CloudFormation's own rollback"
        else:
            why, hint = _REFUSALS.get(
                status,
                (
                    "nothing is being deployed and no failed update waits for a rollback",
                    "CloudFormation rolls back an update in progress or a failed one; deploy "
                    "the previous template to go back from a stable stack",
                ),
            )
            raise RollbackRefused(
                f"stack {self.stack_name} cannot roll back from {status}: {why}",
                state,
                hint=hint,
            )
        final = self._wait(started, timeout, replace(state, phase=Phase.ROLLING_BACK))
        detail = f"{how} ({reason}): {final.detail}"
        if final.phase is not Phase.ROLLED_BACK:
            raise RollbackError(
                f"stack {self.stack_name} did not roll back: {final.detail}",
                final,
                hint="read the stack events (`aws cloudformation describe-stack-events`)",
            )
        return RollbackOutcome(True, final, started, self._clock(), detail)

    def _call(self, what: str, method: str, state: DeploymentState) -> None:
        try:
            with aws_call(f"{what} stack {self.stack_name}", self.target):
                getattr(self.api, method)(StackName=self.stack_name)
        except AwsError as error:
            # the status may have moved on between describe and the call: say what it is now
            now = self._read_or(state)
            raise RollbackError(
                f"{error} — stack now {now.detail}", now, hint=error.hint
            ) from error

    def _read_or(self, fallback: DeploymentState) -> DeploymentState:
        try:
            return self.state()
        except (AwsError, InputError):
            return fallback

    def _wait(self, started: float, timeout: float, last: DeploymentState) -> DeploymentState:
        deadline = time.monotonic() + max(0.0, timeout - (self._clock() - started))
        while True:
            try:
                stack = self.describe()
            except (AwsError, InputError) as error:
                raise RollbackError(
                    f"lost track of stack {self.stack_name} during its rollback: {error}",
                    last,
                    hint="the rollback may go on in CloudFormation; check it with "
                    "`aws cloudformation describe-stacks`",
                ) from error
            last = self._state_of(stack)
            if is_final(str(stack.get("StackStatus", ""))):
                return last
            if time.monotonic() >= deadline:
                raise RollbackError(
                    f"stack {self.stack_name} still {last.detail} after {timeout:g} s",
                    last,
                    hint="the rollback goes on in CloudFormation; follow it with "
                    "`aws cloudformation describe-stacks`",
                )
            time.sleep(min(self.poll_interval, max(0.0, deadline - time.monotonic())))

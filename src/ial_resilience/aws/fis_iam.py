"""Least-privilege IAM for FIS experiments: one role per action family, scoped by tag.

:func:`role_policy` turns the IAM actions a family's FIS actions need (``FisAction.iam_actions``
of :mod:`ial_resilience.aws.fis`) into a policy document:

* an action that acts on a resource type which supports ``aws:ResourceTag`` (``ec2`` instances,
  ``ecs`` tasks, ``rds`` clusters and instances, SSM-managed instances…) is granted on that
  resource type only, and only where the resource carries the chaos tag
  (``aws:ResourceTag/<TAG_KEY>`` equals the tag value);
* ``ssm:SendCommand`` is also granted on the FIS-owned ``AWSFIS-*`` SSM documents it runs;
* actions that AWS does not authorize per resource (``Describe*``, ``List*``, ``Get*``,
  ``ssm:ListCommands``, ``ssm:CancelCommand``, ``ec2:InjectApiError``…) are granted on
  ``Resource: "*"`` — never an action wildcard;
* every role may deliver experiment logs to CloudWatch Logs (``logs:CreateLogDelivery`` and the
  log-group resource policy actions the CloudWatch Logs guide lists for vended logs).

A ``*`` in an action name, or an action this table cannot scope, is an :class:`InputError`
at render time: the phase grants nothing it cannot justify. The tag key is fixed
(:data:`TAG_KEY`) because IAM condition keys and FIS ``resourceTags`` keys cannot be
CloudFormation parameters (a template cannot substitute inside a map key); its value can.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ial_resilience.errors import InputError

TAG_KEY = "ialr-chaos"
FIS_PRINCIPAL = "fis.amazonaws.com"
_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")
_READ_VERBS = ("Describe", "List", "Get")


@dataclass(frozen=True)
class Arns:
    """The account and place ARNs are built for: CloudFormation pseudo parameters in the
    phase, real values for the API path."""

    partition: str = "${AWS::Partition}"
    region: str = "${AWS::Region}"
    account: str = "${AWS::AccountId}"

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        where = self.region if region else ""
        owner = self.account if account else ""
        return f"arn:{self.partition}:{service}:{where}:{owner}:{resource}"


_INSTANCE = ("ec2", "instance/*")
_TAG_SCOPED: dict[str, tuple[tuple[str, str], ...]] = {
    "ec2:StopInstances": (_INSTANCE,),
    "ec2:StartInstances": (_INSTANCE,),
    "ec2:RebootInstances": (_INSTANCE,),
    "ec2:TerminateInstances": (_INSTANCE,),
    "ec2:SendSpotInstanceInterruptions": (_INSTANCE,),
    "ecs:StopTask": (("ecs", "task/*"),),
    "ecs:UpdateContainerInstancesState": (("ecs", "container-instance/*"),),
    "rds:FailoverDBCluster": (("rds", "cluster:*"),),
    "rds:RebootDBInstance": (("rds", "db:*"),),
    "ssm:SendCommand": (_INSTANCE, ("ssm", "managed-instance/*")),
}
"""IAM actions on resource types that support ``aws:ResourceTag`` (Service Authorization
Reference), with the resource types they are granted on."""
_UNSCOPED = frozenset(
    {
        "ssm:ListCommands",
        "ssm:CancelCommand",
        "ec2:InjectApiError",
        "tag:GetResources",
        "logs:CreateLogDelivery",
    }
)
"""Actions without resource-level permissions: only ``Resource: "*"`` works for them."""
_LOG_DELIVERY = (
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)


def check_action(action: str, where: str) -> None:
    """A clear error for a wildcard or malformed IAM action (``where`` names its source)."""
    if "*" in action:
        raise InputError(
            f"{where}: IAM action {action!r} is a wildcard; FIS roles name every action",
            hint="list the exact actions the FIS action needs (see its IAM permissions in the "
            "FIS actions reference)",
        )
    if not _ACTION.match(action):
        raise InputError(
            f"{where}: {action!r} is not an IAM action",
            hint="write service:Action, e.g. ecs:StopTask",
        )


def _unscoped(action: str) -> bool:
    verb = action.split(":", 1)[1]
    return action in _UNSCOPED or verb.startswith(_READ_VERBS)


def statements(
    actions: Iterable[str], tag_value: str, arns: Arns, *, where: str
) -> list[dict[str, Any]]:
    """Policy statements granting ``actions`` (see the module docstring)."""
    tagged: dict[tuple[tuple[str, str], ...], list[str]] = {}
    unscoped: list[str] = []
    for action in sorted(set(actions)):
        check_action(action, where)
        if action in _TAG_SCOPED:
            tagged.setdefault(_TAG_SCOPED[action], []).append(action)
        elif _unscoped(action):
            unscoped.append(action)
        else:
            raise InputError(
                f"{where}: no tag-scoped resource is known for IAM action {action!r}",
                hint="add the action and the resource type it acts on (one that supports "
                "aws:ResourceTag) to ial_resilience.aws.fis_iam._TAG_SCOPED, or to _UNSCOPED "
                "if AWS has no resource-level permission for it",
            )
    result: list[dict[str, Any]] = []
    condition = {"StringEquals": {f"aws:ResourceTag/{TAG_KEY}": tag_value}}
    for index, (resources, granted) in enumerate(sorted(tagged.items()), start=1):
        result.append(
            {
                "Sid": f"TaggedTargets{index}",
                "Effect": "Allow",
                "Action": granted,
                "Resource": [arns.arn(service, resource) for service, resource in resources],
                "Condition": condition,
            }
        )
    if "ssm:SendCommand" in tagged.get(_TAG_SCOPED["ssm:SendCommand"], []):
        result.append(
            {
                "Sid": "FisSsmDocuments",
                "Effect": "Allow",
                "Action": ["ssm:SendCommand"],
                "Resource": [arns.arn("ssm", "document/AWSFIS-*", account=False)],
            }
        )
    if unscoped:
        result.append(
            {
                "Sid": "NoResourceLevelPermissions",
                "Effect": "Allow",
                "Action": unscoped,
                "Resource": "*",
            }
        )
    return result


def log_delivery_statements(arns: Arns) -> list[dict[str, Any]]:
    """What FIS needs to deliver experiment logs to a CloudWatch Logs group."""
    return [
        {
            "Sid": "ExperimentLogDelivery",
            "Effect": "Allow",
            "Action": ["logs:CreateLogDelivery"],
            "Resource": "*",
        },
        {
            "Sid": "ExperimentLogGroupPolicy",
            "Effect": "Allow",
            "Action": list(_LOG_DELIVERY),
            "Resource": [arns.arn("logs", "log-group:*")],
        },
    ]


def role_policy(family: str, actions: Iterable[str], tag_value: str, arns: Arns) -> dict[str, Any]:
    """The inline policy of the FIS role of ``family``."""
    body = statements(actions, tag_value, arns, where=f"FIS action family {family!r}")
    if not body:
        raise InputError(
            f"FIS action family {family!r} needs no IAM action: nothing to grant",
            hint="check the family's FisAction.iam_actions",
        )
    return {"Version": "2012-10-17", "Statement": body + log_delivery_statements(arns)}


def trust_policy(arns: Arns) -> dict[str, Any]:
    """FIS may assume the role, for experiments of this account only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": FIS_PRINCIPAL},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": arns.account},
                    "ArnLike": {"aws:SourceArn": arns.arn("fis", "experiment/*")},
                },
            }
        ],
    }

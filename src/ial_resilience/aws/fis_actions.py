"""The FIS actions the vocabulary's faults map to, with their parameters and IAM needs.

:data:`FIS_ACTIONS` holds one action per fault, the one used when the scope's resource type is
that action's (``aws:ecs:task`` for services and links, ``aws:rds:cluster`` for databases…);
:data:`ALTERNATES` holds the action used when the scope names another resource type (an EC2
instance, a subnet, an RDS instance). Faults with no FIS action are in neither, and
:data:`NO_FIS_ACTION` says why (the parity table and validation print it).

Action ids, parameter names and target keys are those of the AWS FIS actions reference
(docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html); durations are ISO 8601
(``PT90S``). Parameter values are strings, as the FIS API takes them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Params = Callable[[Any, float, Mapping[str, Any]], dict[str, str]]
"""(fault parameter model, duration in seconds, scope entry options) → FIS parameters."""

_SSM_RUN = ("ssm:SendCommand", "ssm:ListCommands", "ssm:CancelCommand")
_ECS_SSM = ("ecs:DescribeTasks", "ecs:DescribeContainerInstances", "ec2:DescribeInstances",
            "ec2:DescribeSubnets", *_SSM_RUN)  # fmt: skip


def iso_duration(seconds: float) -> str:
    """``PT90S`` for 90 seconds (whole seconds, rounded up; FIS takes no fractions)."""
    return f"PT{max(1, math.ceil(seconds))}S"


@dataclass(frozen=True)
class FisAction:
    """One FIS action: its id, the resource type and key of its target, its IAM family."""

    action_id: str
    resource_type: str
    target_key: str
    family: str
    """One IAM role per family in phase 00e (ecs, ec2, rds, network, api, ssm, asg)."""
    iam_actions: tuple[str, ...]
    parameters: Params = field(repr=False, compare=False)
    differs: str = ""
    """What differs from the local provider (granularity, direction, limits, evidence)."""
    min_duration: float = 0.0
    """Shortest duration FIS accepts for this action (seconds); 0: none, or not timed."""
    timed: bool = True
    """False for one-shot actions (stop a task, fail over): FIS takes no duration."""
    needs: tuple[str, ...] = ()
    """Keys the scope entry must give for this action (``port``, ``process_name``…)."""


def _none(params: Any, duration: float, options: Mapping[str, Any]) -> dict[str, str]:
    return {}


def _latency(params: Any, duration: float, options: Mapping[str, Any]) -> dict[str, str]:
    return {
        "duration": iso_duration(duration),
        "delayMilliseconds": str(round(params.latency * 1000)),
        "jitterMilliseconds": str(round(params.jitter * 1000)),
        **_sources(options),
    }


def _loss(params: Any, duration: float, options: Mapping[str, Any]) -> dict[str, str]:
    return {
        "duration": iso_duration(duration),
        "lossPercent": str(round(params.probability * 100)),
        **_sources(options),
    }


def _sources(options: Mapping[str, Any]) -> dict[str, str]:
    sources = options.get("sources")
    return {"sources": ",".join(sources)} if sources else {}


def _blackhole(params: Any, duration: float, options: Mapping[str, Any]) -> dict[str, str]:
    return {
        "duration": iso_duration(duration),
        "port": str(options["port"]),
        "protocol": str(options.get("protocol") or "tcp"),
        "trafficType": str(options.get("traffic_type") or "egress"),
    }


def _kill(params: Any, duration: float, options: Mapping[str, Any]) -> dict[str, str]:
    return {"processName": str(options["process_name"]), "signal": str(params.signal)}


def _cpu(params: Any, duration: float, options: Mapping[str, Any]) -> dict[str, str]:
    return {
        "duration": iso_duration(duration),
        "percent": str(round(params.load)),
        "workers": str(params.workers),
    }


def _ssm(document: str, body: Callable[[Any, float, Mapping[str, Any]], dict[str, str]]) -> Params:
    def parameters(params: Any, duration: float, options: Mapping[str, Any]) -> dict[str, str]:
        region = str(options.get("region") or "${AWS::Region}")
        values = {
            "DurationSeconds": str(max(1, math.ceil(duration))),
            **body(params, duration, options),
        }
        return {
            "documentArn": f"arn:aws:ssm:{region}::document/{document}",
            "documentParameters": json.dumps(values, sort_keys=True),
            "duration": iso_duration(duration),
        }

    return parameters


def _share_of(size: int, capacity: Any) -> str:
    return str(min(100, max(1, math.ceil(size * 100 / int(capacity)))))


def _api_error(params: Any, duration: float, options: Mapping[str, Any]) -> dict[str, str]:
    return {
        "duration": iso_duration(duration),
        "service": str(options["service"]),
        "operations": ",".join(options["operations"]),
        "percentage": "100",
    }


def _capacity(params: Any, duration: float, options: Mapping[str, Any]) -> dict[str, str]:
    return {
        "duration": iso_duration(duration),
        "availabilityZoneIdentifiers": ",".join(options["availability_zones"]),
        "percentage": "100",
    }


def _disrupt(params: Any, duration: float, options: Mapping[str, Any]) -> dict[str, str]:
    return {"duration": iso_duration(duration), "scope": str(options.get("disrupt_scope") or "all")}


def _stop_instances(params: Any, duration: float, options: Mapping[str, Any]) -> dict[str, str]:
    return {"startInstancesAfterDuration": iso_duration(duration)}


def _spot(params: Any, duration: float, options: Mapping[str, Any]) -> dict[str, str]:
    return {"durationBeforeInterruption": "PT2M"}


_TASK = "aws:ecs:task"
_INSTANCE = "aws:ec2:instance"

FIS_ACTIONS: dict[str, FisAction] = {
    "network.latency": FisAction(
        "aws:ecs:task-network-latency", _TASK, "Tasks", "ecs", _ECS_SSM, _latency,
        "whole task network (every flow of the task, or the scope's sources), not one link; "
        "one direction (egress of the task); millisecond granularity; evidence: the FIS "
        "action state, not bytes measured on a proxy",
        needs=(),
    ),
    "network.loss": FisAction(
        "aws:ecs:task-network-packet-loss", _TASK, "Tasks", "ecs", _ECS_SSM, _loss,
        "packets (tc netem) of the whole task, whole percent; locally chunks of one link, "
        "per direction",
    ),
    "network.partition": FisAction(
        "aws:ecs:task-network-blackhole-port", _TASK, "Tasks", "ecs", _ECS_SSM, _blackhole,
        "drops traffic of one port and protocol, ingress or egress (scope traffic_type); "
        "locally the link's proxy holds every byte in the chosen direction",
        needs=("port",),
    ),
    "process.kill": FisAction(
        "aws:ecs:task-kill-process", _TASK, "Tasks", "ecs", _ECS_SSM, _kill,
        "kills a process by name inside the task (SIGKILL or SIGTERM only); locally by pid "
        "with any signal; FIS gives the action state, locally the pid is seen gone",
        timed=False, needs=("process_name",),
    ),
    "process.restart": FisAction(
        "aws:ecs:stop-task", _TASK, "Tasks", "ecs", ("ecs:StopTask", "ecs:DescribeTasks"), _none,
        "stops the whole task (SIGTERM, then SIGKILL after the stop timeout); the ECS service "
        "starts a new task with a new ARN; locally the same process is started again",
        timed=False,
    ),
    "resource.cpu": FisAction(
        "aws:ecs:task-cpu-stress", _TASK, "Tasks", "ecs", _ECS_SSM, _cpu,
        "stress-ng inside the task (percent per worker); locally busy workers in the agent",
    ),
    "resource.memory": FisAction(
        "aws:ssm:send-command", _INSTANCE, "Instances", "ssm", _SSM_RUN,
        _ssm("AWSFIS-Run-Memory-Stress",
             lambda p, d, o: {"Percent": _share_of(p.bytes, o["memory"]), "Workers": "1"}),
        "AWSFIS-Run-Memory-Stress takes a percent of the instance's memory: the size is "
        "turned into a percent of the scope's memory, rounded up",
        needs=("memory",),
    ),
    "resource.disk": FisAction(
        "aws:ssm:send-command", _INSTANCE, "Instances", "ssm", _SSM_RUN,
        _ssm("AWSFIS-Run-Disk-Fill", lambda p, d, o: {"Percent": _share_of(p.bytes, o["disk"])}),
        "AWSFIS-Run-Disk-Fill fills a percent of the root volume, not a directory: the size "
        "is turned into a percent of the scope's disk, rounded up",
        needs=("disk",),
    ),
    "db.failover": FisAction(
        "aws:rds:failover-db-cluster", "aws:rds:cluster", "Clusters", "rds",
        ("rds:FailoverDBCluster", "rds:DescribeDBClusters", "tag:GetResources"), _none,
        "Aurora/Multi-AZ cluster failover by RDS (tens of seconds); locally the lab promotes "
        "the PostgreSQL replica; evidence: the action state, not the new primary",
        timed=False,
    ),
    "dependency.outage": FisAction(
        "aws:ecs:task-network-blackhole-port", _TASK, "Tasks", "ecs", _ECS_SSM, _blackhole,
        "the client's tasks drop traffic to the dependency's port (scope port); locally every "
        "connection of the link is reset and new ones refused",
        needs=("port",),
    ),
    "scaling.capacity-limit": FisAction(
        "aws:ec2:asg-insufficient-instance-capacity-error", "aws:ec2:autoscaling-group",
        "AutoScalingGroups", "asg", ("ec2:InjectApiError", "autoscaling:DescribeAutoScalingGroups"),
        _capacity,
        "the group cannot launch instances in the scope's availability zones (limit 0 only); "
        "locally the lab caps the replicas at limit",
        min_duration=60.0, needs=("availability_zones",),
    ),
}  # fmt: skip
"""The default FIS action of each fault that has one."""

ALTERNATES: dict[tuple[str, str], FisAction] = {
    ("network.latency", _INSTANCE): FisAction(
        "aws:ssm:send-command", _INSTANCE, "Instances", "ssm", _SSM_RUN,
        _ssm("AWSFIS-Run-Network-Latency",
             lambda p, d, o: {"DelayMilliseconds": str(round(p.latency * 1000))}),
        "tc netem on the instance's interface",
    ),
    ("network.loss", _INSTANCE): FisAction(
        "aws:ssm:send-command", _INSTANCE, "Instances", "ssm", _SSM_RUN,
        _ssm("AWSFIS-Run-Network-Packet-Loss",
             lambda p, d, o: {"LossPercent": str(round(p.probability * 100))}),
        "tc netem on the instance's interface",
    ),
    ("dependency.outage", "aws:iam:role"): FisAction(
        "aws:fis:inject-api-unavailable-error", "aws:iam:role", "Roles", "api",
        ("fis:InjectApiUnavailableError",), _api_error,
        "AWS API calls of one IAM role fail (scope service and operations; EC2 only today)",
        min_duration=60.0, needs=("service", "operations"),
    ),
    ("network.partition", "aws:ec2:subnet"): FisAction(
        "aws:network:disrupt-connectivity", "aws:ec2:subnet", "Subnets", "network",
        ("ec2:CreateNetworkAcl", "ec2:CreateNetworkAclEntry", "ec2:CreateTags",
         "ec2:DeleteNetworkAcl", "ec2:DescribeManagedPrefixLists", "ec2:DescribeNetworkAcls",
         "ec2:DescribeSubnets", "ec2:DescribeVpcs", "ec2:GetManagedPrefixListEntries",
         "ec2:ReplaceNetworkAclAssociation"),
        _disrupt, "a network ACL cuts the whole subnet (scope disrupt_scope, default all)",
    ),
    ("process.kill", _INSTANCE): FisAction(
        "aws:ec2:stop-instances", _INSTANCE, "Instances", "ec2",
        ("ec2:StopInstances", "ec2:StartInstances", "ec2:DescribeInstances"), _stop_instances,
        "stops the instance, started again after the duration",
    ),
    ("process.kill", "aws:ec2:spot-instance"): FisAction(
        "aws:ec2:send-spot-instance-interruptions", "aws:ec2:spot-instance", "SpotInstances",
        "ec2", ("ec2:SendSpotInstanceInterruptions", "ec2:DescribeInstances"), _spot,
        "a spot interruption notice, the instance is interrupted two minutes later",
        timed=False,
    ),
    ("resource.cpu", _INSTANCE): FisAction(
        "aws:ssm:send-command", _INSTANCE, "Instances", "ssm", _SSM_RUN,
        _ssm("AWSFIS-Run-CPU-Stress", lambda p, d, o: {"LoadPercent": str(round(p.load))}),
        "stress-ng on the instance",
    ),
    ("db.failover", "aws:rds:db"): FisAction(
        "aws:rds:reboot-db-instances", "aws:rds:db", "DBInstances", "rds",
        ("rds:RebootDBInstance", "rds:DescribeDBInstances", "tag:GetResources"),
        lambda p, d, o: {"forceFailover": "true"},
        "a Multi-AZ instance rebooted with failover", timed=False,
    ),
}  # fmt: skip
"""Actions used when the scope names another resource type, by (fault, resource type)."""

NO_FIS_ACTION: dict[str, str] = {
    "network.bandwidth": "FIS has no bandwidth cap for tasks or instances",
    "network.reset": "FIS cannot reset the connections of one link (TCP RST)",
    "network.slow-close": "FIS cannot delay closing connections",
    "network.slicer": "FIS cannot slice a stream into small chunks",
    "network.slow-open": "FIS cannot delay connecting upstream",
    "network.timeout": "FIS cannot blackhole a link and close it later",
    "network.down": "FIS cannot reset every connection of one link at once",
    "process.pause": "FIS cannot stop (SIGSTOP) and continue a process",
    "http.abort": "FIS has no HTTP-level fault for ECS tasks or EC2 instances",
    "http.delay": "FIS has no HTTP-level fault for ECS tasks or EC2 instances",
    "db.connection-drop": "FIS cannot drop a database's open connections",
    "lb.health-check-fail": "FIS has no load balancer health-check fault",
}
"""Why a fault has no FIS action (validation with --provider aws names it at file:line)."""


def action_for(fault: str, resource_type: str | None = None) -> FisAction | None:
    """The FIS action for ``fault`` on ``resource_type`` (the default one when None)."""
    if resource_type is not None and (fault, resource_type) in ALTERNATES:
        return ALTERNATES[(fault, resource_type)]
    action = FIS_ACTIONS.get(fault)
    if action is None or (resource_type is not None and resource_type != action.resource_type):
        return None
    return action


def all_actions() -> list[FisAction]:
    """Every action the translation may emit (default and alternates), for IAM roles."""
    return [*FIS_ACTIONS.values(), *ALTERNATES.values()]


def resource_types(fault: str) -> list[str]:
    """Every resource type ``fault`` can be aimed at on AWS."""
    types = [FIS_ACTIONS[fault].resource_type] if fault in FIS_ACTIONS else []
    return types + [rtype for (name, rtype) in ALTERNATES if name == fault]

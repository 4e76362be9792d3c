"""What the AWS observability set-up watches, and the metric catalogue it reads.

A :class:`Scope` holds the names of the observed resources (load balancer, ECS service, Aurora
cluster, DynamoDB table, log group). The same builders run twice: with real names for the API
(``ialr observe setup --aws``) and with ``${Parameter}`` placeholders for the CloudFormation
phase (:meth:`Scope.cloudformation`), so the template and the API calls cannot disagree.

The custom namespaces and metric names below are the contract with the code that emits them
(EMF from the observability library, the chaos engine, backup drills).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ial_resilience.errors import InputError
from ial_resilience.observability import metrics as _metrics

# the namespaces are defined where metrics are routed to them (one place for both)
BUSINESS_NAMESPACE = _metrics.BUSINESS_NAMESPACE
CHAOS_NAMESPACE = _metrics.CHAOS_NAMESPACE
RESILIENCE_NAMESPACE = _metrics.RESILIENCE_NAMESPACE

# Metric names as ial_resilience.observability.recorders emits them (EMF, one dimension set of
# the point's own dimensions: stack, check, reason, experiment); dashboards sum over them.
DEPLOYMENTS_STARTED = "deployment.started"
DEPLOYMENTS_SUCCEEDED = "deployment.succeeded"
DEPLOYMENTS_FAILED = "deployment.failed"
VALIDATIONS_FAILED = "validation.failed"
ROLLBACKS = "rollback.count"
CHAOS_RESULTS = ("passed", "deviated", "aborted")  # chaos.<status>
TIME_TO_RECOVER = "chaos.time_to_recover"  # milliseconds
GUARDRAIL_ABORTS = "chaos.aborted"
# IaL/Resilience: recovery drills
RECOVERY_TIME = "recovery.rto_seconds"
DATA_LOSS_WINDOW = "recovery.rpo_seconds"
RESILIENCE_SCORE = "resilience.score"

_ENVIRONMENT = re.compile(r"^[a-z][a-z0-9-]{0,15}$")


@dataclass(frozen=True)
class Scope:
    """Names of the observed system; ``prefix`` starts the name of everything created."""

    environment: str
    region: str
    load_balancer: str  # ALB full name: app/<name>/<id>
    ecs_cluster: str
    ecs_service: str
    aurora_cluster: str
    dynamodb_table: str
    log_group: str
    alert_email: str = ""

    @property
    def prefix(self) -> str:
        return f"ialr-{self.environment}"

    def name(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"

    @classmethod
    def for_environment(cls, environment: str = "prod", region: str = "us-east-1") -> Scope:
        """Default names of an IaL deployment in ``environment`` (override with ``replace``)."""
        if not _ENVIRONMENT.match(environment):
            raise InputError(
                f"environment {environment!r} is not a valid name",
                hint="use 1-16 lower-case letters, digits or dashes, starting with a letter",
            )
        base = f"ialr-{environment}"
        return cls(
            environment=environment,
            region=region,
            load_balancer=f"app/{base}-alb/0123456789abcdef",
            ecs_cluster=base,
            ecs_service=f"{base}-api",
            aurora_cluster=f"{base}-aurora",
            dynamodb_table=f"{base}-orders",
            log_group=f"/ialr/{environment}/app",
        )

    @classmethod
    def cloudformation(cls) -> Scope:
        """Placeholders resolved by ``!Sub`` against the phase's parameters."""
        return cls(
            environment="${Environment}",
            region="${AWS::Region}",
            load_balancer="${LoadBalancerFullName}",
            ecs_cluster="${EcsClusterName}",
            ecs_service="${EcsServiceName}",
            aurora_cluster="${AuroraClusterId}",
            dynamodb_table="${DynamoDbTableName}",
            log_group="${ApplicationLogGroup}",
            alert_email="${AlertEmail}",
        )

    def with_email(self, email: str) -> Scope:
        return replace(self, alert_email=email)

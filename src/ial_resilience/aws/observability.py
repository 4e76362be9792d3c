"""AWS observability: the public API behind ``ialr observe setup --aws`` and ``observe cost``.

::

    scope = Scope.for_environment("prod", region="us-east-1").with_email("ops@example.com")
    report = setup(target, scope, rules=load_rules("alerts.yaml"), dry_run=True)
    report.changed, report.summary(), report.as_json()
    estimate_cost(scope, rules).as_json()
    put_emf(target, lines, dimension_sets(rules))  # EMF -> PutMetricData, SLO rollups added
    render_phase(PHASE_NAME)                # phases/00c-enhanced-observability.yaml

Importing this module registers phase 00c with :mod:`ial_resilience.aws.phases`.
"""

from __future__ import annotations

from ial_resilience.alerting.rules import RuleFile
from ial_resilience.aws import phase_00c
from ial_resilience.aws._session import AwsTarget
from ial_resilience.aws.obs_api import Api
from ial_resilience.aws.obs_burn_rate import dimension_sets
from ial_resilience.aws.obs_costs import CostEstimate, Usage, estimate
from ial_resilience.aws.obs_desired import default_rules, desired_state, topic
from ial_resilience.aws.obs_emf import parse_line, put_emf
from ial_resilience.aws.obs_model import Desired, Kind
from ial_resilience.aws.obs_scope import BUSINESS_NAMESPACE, Scope
from ial_resilience.aws.obs_setup import Action, Change, SetupReport, reconcile

PHASE_NAME = phase_00c.NAME  # registered in ial_resilience.aws.phases

__all__ = [
    "PHASE_NAME",
    "Action",
    "Change",
    "CostEstimate",
    "Desired",
    "Kind",
    "Scope",
    "SetupReport",
    "Usage",
    "default_rules",
    "desired_state",
    "dimension_sets",
    "estimate_cost",
    "parse_line",
    "put_emf",
    "setup",
    "topic_arn",
]


def topic_arn(api: Api, scope: Scope) -> str:
    """The alarm topic's ARN, known before it exists (partition and account from STS)."""
    identity = api.call("sts", "get_caller_identity")
    partition = str(identity["Arn"]).split(":")[1]
    return f"arn:{partition}:sns:{scope.region}:{identity['Account']}:{topic(scope).name}"


def setup(
    target: AwsTarget,
    scope: Scope,
    rules: RuleFile | None = None,
    *,
    dry_run: bool = False,
    namespace: str = BUSINESS_NAMESPACE,
) -> SetupReport:
    """Create or update everything of :func:`desired_state` at ``target``; idempotent."""
    api = Api(target.in_region(scope.region), scope)
    desired = desired_state(scope, topic_arn(api, scope), rules, namespace)
    return reconcile(api, desired, dry_run=dry_run)


def estimate_cost(
    scope: Scope, rules: RuleFile | None = None, usage: Usage = Usage()
) -> CostEstimate:
    """Monthly cost of what :func:`setup` creates for ``scope`` (no AWS call)."""
    placeholder = f"arn:aws:sns:{scope.region}:000000000000:{topic(scope).name}"
    return estimate(desired_state(scope, placeholder, rules), usage)

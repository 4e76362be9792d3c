"""Phase 00e, chaos engineering: the CloudFormation template, built in code.

* one ``AWS::FIS::ExperimentTemplate`` per experiment of the library (``chaos/``) whose faults
  all have an FIS action, translated by :func:`ial_resilience.aws.fis.render_template` (the
  same translation ``ialr chaos render --provider aws`` prints) and converted to CloudFormation
  casing by :mod:`~ial_resilience.aws.fis_cfn`; the experiments without one are listed in the
  template's ``Metadata`` (``IaL::Chaos::Library``) with the faults that have no FIS action;
* one least-privilege IAM role per FIS action family (:mod:`~ial_resilience.aws.fis_iam`):
  named actions only, resources scoped by the ``ialr-chaos`` tag where AWS supports it;
* the stop-condition alarms, the experiment log group every template logs to, and the chaos
  monitoring dashboard (:mod:`~ial_resilience.aws.chaos_stack`).

Resources are found by the ``ialr-chaos`` tag: tag what experiments may touch with
``ialr-chaos=<ChaosTagValue>``; nothing else can be selected or acted on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ial_resilience.aws import chaos_library, chaos_stack, fis_iam
from ial_resilience.aws.cfn import GetAtt, Ref, Sub, Template
from ial_resilience.aws.chaos_stack import LOG_RETENTION_DAYS, ChaosScope
from ial_resilience.aws.obs_model import Desired, logical_id
from ial_resilience.aws.phase_00c import cfn_value as _sub_or_ref

NAME = "00e-chaos-engineering"
LOG_GROUP_ID = "FisExperimentLogGroup"
DASHBOARD_ID = "ChaosMonitoringDashboard"
METADATA_KEY = "IaL::Chaos::Library"
_ATTRIBUTE = re.compile(r"^\$\{([A-Za-z0-9]+)\.([A-Za-z0-9.]+)\}$")
_PSEUDO = re.compile(r"^\$\{(AWS::[A-Za-z]+)\}$")
_PARAMETERS = (
    ("LoadBalancerFullName", "ALB full name (app/<name>/<id>): stop alarms and dashboard"),
    ("EcsClusterName", "ECS cluster running the API service"),
    ("EcsServiceName", "ECS service of the API"),
    ("AuroraClusterId", "Aurora PostgreSQL cluster identifier (dashboard)"),
)


def cfn_value(value: Any) -> Any:
    """00c's conversion, plus ``${Resource.Attr}`` -> ``!GetAtt`` and ``${AWS::X}`` -> ``!Ref``."""
    if isinstance(value, str):
        attribute = _ATTRIBUTE.match(value)
        if attribute:
            return GetAtt(attribute.group(1), attribute.group(2))
        pseudo = _PSEUDO.match(value)
        if pseudo:
            return Ref(pseudo.group(1))
        return _sub_or_ref(value)
    if isinstance(value, Mapping):
        return {key: cfn_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [cfn_value(item) for item in value]
    return value


def camel(key: str) -> str:
    """``network-db-latency`` -> ``NetworkDbLatency``."""
    return "".join(part[:1].upper() + part[1:] for part in key.replace("_", "-").split("-"))


def role_id(family: str) -> str:
    return f"Fis{camel(family)}Role"


def alarm_id(item: Desired) -> str:
    return f"Stop{logical_id(item)}"


def template_id(key: str) -> str:
    return f"Fis{camel(key)}Template"


def cfn_refs() -> chaos_library.Refs:
    """ARNs as CloudFormation attributes (``${Resource.Arn}`` in a ``!Sub``)."""
    return chaos_library.Refs(
        role_arn=lambda family: f"${{{role_id(family)}.Arn}}",
        alarm_arn=lambda item: f"${{{alarm_id(item)}.Arn}}",
        # the translation appends FIS's ":*" itself; the templates depend on the log group
        log_group_arn=ChaosScope.cloudformation().log_group_arn,
    )


def add_parameters(t: Template) -> None:
    t.parameter(
        "Environment",
        "String",
        "Deployment environment (names start ialr-<env>-)",
        Default="prod",
        AllowedPattern="^[a-z][a-z0-9-]{0,15}$",
    )
    t.parameter(
        "ChaosTagValue",
        "String",
        f"Experiments select and act only on resources tagged {fis_iam.TAG_KEY}=<this value>",
        Default="enabled",
        AllowedPattern="^[A-Za-z0-9_.:/=+@-]{1,256}$",
    )
    for name, text in _PARAMETERS:
        t.parameter(name, "String", text)
    t.parameter(
        "ApiProcessName",
        "String",
        "Process name of the API inside its task (aws:ecs:task-kill-process kills it)",
        Default="python3",
        MinLength=1,
    )
    t.parameter(
        "FisLogRetentionDays",
        "Number",
        "Days CloudWatch Logs keeps the FIS experiment log records",
        Default=30,
        AllowedValues=list(LOG_RETENTION_DAYS),
    )


def add_log_group(t: Template, scope: ChaosScope) -> None:
    spec = chaos_stack.log_group(scope)
    t.resource(
        LOG_GROUP_ID,
        "AWS::Logs::LogGroup",
        {
            "LogGroupName": cfn_value(spec["logGroupName"]),
            "RetentionInDays": cfn_value(spec["retentionInDays"]),
        },
        DeletionPolicy="Retain",
        UpdateReplacePolicy="Retain",
    )


def add_alarms(t: Template, alarms: tuple[Desired, ...]) -> None:
    for item in alarms:
        t.resource(alarm_id(item), "AWS::CloudWatch::Alarm", cfn_value(dict(item.spec)))


def add_roles(t: Template, scope: ChaosScope, families: dict[str, tuple[str, ...]]) -> None:
    for family, actions in families.items():
        policy = fis_iam.role_policy(family, actions, scope.tag_value, scope.arns)
        t.resource(
            role_id(family),
            "AWS::IAM::Role",
            {
                "RoleName": cfn_value(scope.role_name(family)),
                "Description": f"FIS experiments of the {family} family (ialr phase 00e)",
                "AssumeRolePolicyDocument": cfn_value(fis_iam.trust_policy(scope.arns)),
                "Policies": [{"PolicyName": f"fis-{family}", "PolicyDocument": cfn_value(policy)}],
            },
        )


def add_templates(t: Template, plan: chaos_library.LibraryPlan) -> None:
    for planned in plan.templates:
        t.resource(
            template_id(planned.key),
            "AWS::FIS::ExperimentTemplate",
            cfn_value(planned.properties()),
            DependsOn=[LOG_GROUP_ID],
        )


def add_dashboard(t: Template, scope: ChaosScope, alarms: tuple[Desired, ...]) -> None:
    item = chaos_stack.dashboard(scope, alarms)
    t.resource(
        DASHBOARD_ID,
        "AWS::CloudWatch::Dashboard",
        cfn_value(dict(item.spec)),
        DependsOn=[alarm_id(alarm) for alarm in alarms],
    )


def add_outputs(t: Template, plan: chaos_library.LibraryPlan) -> None:
    t.output("ExperimentLogGroupArn", GetAtt(LOG_GROUP_ID, "Arn"), "FIS experiment log group")
    t.output(
        "ChaosDashboardName",
        Ref(DASHBOARD_ID),
        "CloudWatch dashboard following the experiments",
    )
    for planned in plan.templates:
        t.output(
            f"{template_id(planned.key)}Id",
            Ref(template_id(planned.key)),
            f"FIS template of {planned.path}: aws fis start-experiment --experiment-template-id",
            Export={"Name": Sub(f"${{AWS::StackName}}-{planned.key}")},
        )


def metadata(plan: chaos_library.LibraryPlan) -> dict[str, Any]:
    return {
        METADATA_KEY: {
            "Library": "chaos/",
            "TagKey": fis_iam.TAG_KEY,
            "Templates": {p.path: template_id(p.key) for p in plan.templates},
            "WithoutFisEquivalent": [
                {"Experiment": u.path, "Faults": list(u.faults), "Why": u.reason}
                for u in plan.unsupported
            ],
        }
    }


def library_plan() -> chaos_library.LibraryPlan:
    """The library as the phase renders it (placeholder scope, CloudFormation references)."""
    scope = ChaosScope.cloudformation()
    return chaos_library.plan(scope, chaos_stack.stop_alarms(scope), cfn_refs())


def build() -> Template:
    scope = ChaosScope.cloudformation()
    alarms = chaos_stack.stop_alarms(scope)
    plan = chaos_library.plan(scope, alarms, cfn_refs())
    template = Template(
        "IaL phase 00e: chaos engineering - FIS experiment templates for the chaos/ library, "
        "least-privilege FIS roles per action family scoped by tag, stop-condition alarms, "
        "the experiment log group and the chaos monitoring dashboard",
        metadata=metadata(plan),
    )
    add_parameters(template)
    add_log_group(template, scope)
    add_alarms(template, alarms)
    add_roles(template, scope, plan.families)
    add_templates(template, plan)
    add_dashboard(template, scope, alarms)
    add_outputs(template, plan)
    return template


DOCS = Path(__file__).resolve().parents[3] / "docs" / "PHASE_00E.md"


def write_docs(path: Path = DOCS) -> bool:
    """Replace the generated table in docs/PHASE_00E.md; True when it changed."""
    text = path.read_text()
    start, end = text.index(chaos_library.BEGIN), text.index(chaos_library.END)
    table = chaos_library.docs_table(library_plan(), template_id)
    updated = text[:start] + table + text[end + len(chaos_library.END) + 1 :]
    path.write_text(updated)
    return updated != text


if __name__ == "__main__":  # python -m ial_resilience.aws.phase_00e: refresh the docs table
    print("docs/PHASE_00E.md", "updated" if write_docs() else "up to date")

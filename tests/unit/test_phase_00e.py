"""Phase 00e as rendered: one FIS template per library experiment FIS can run, the others
listed, least-privilege roles, stop conditions on the alarms, logs to the log group.

(The drift and cfn-lint checks of every registered phase are in test_phases.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

from ial_resilience.aws import phase_00e, phases
from ial_resilience.aws.chaos_library import LIBRARY

NAME = phase_00e.NAME


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    decoded, matches = decode_str(phases.render_phase(NAME))
    assert matches == [] and decoded is not None
    return dict(decoded)


def _of_type(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def test_phase_is_registered() -> None:
    assert phases.get_phase(NAME).filename == "00e-chaos-engineering.yaml"


def test_every_library_experiment_is_a_template_or_listed(template: dict[str, Any]) -> None:
    library = {p.relative_to(LIBRARY).as_posix() for p in LIBRARY.glob("*/*.yaml")}
    listed = template["Metadata"]["IaL::Chaos::Library"]
    unsupported = {u["Experiment"] for u in listed["WithoutFisEquivalent"]}
    templated = set(listed["Templates"])
    assert templated | unsupported == library and not templated & unsupported
    assert all(u["Faults"] for u in listed["WithoutFisEquivalent"])
    resources = _of_type(template, "AWS::FIS::ExperimentTemplate")
    assert set(resources) == set(listed["Templates"].values()) and resources


def test_templates_stop_on_the_alarms_and_log_to_the_log_group(template: dict[str, Any]) -> None:
    alarms = set(_of_type(template, "AWS::CloudWatch::Alarm"))
    for resource in _of_type(template, "AWS::FIS::ExperimentTemplate").values():
        props = resource["Properties"]
        stops = {c["Value"]["Fn::GetAtt"][0] for c in props["StopConditions"]}
        assert stops == alarms
        logs = props["LogConfiguration"]["CloudWatchLogsConfiguration"]["LogGroupArn"]
        assert logs["Fn::Sub"].endswith(":log-group:/aws/vendedlogs/fis/ialr-${Environment}:*")
        assert resource["DependsOn"] == [phase_00e.LOG_GROUP_ID]
        group = template["Resources"][phase_00e.LOG_GROUP_ID]["Properties"]["LogGroupName"]
        assert group == {"Fn::Sub": "/aws/vendedlogs/fis/ialr-${Environment}"}
        role = props["RoleArn"]["Fn::GetAtt"][0]
        assert template["Resources"][role]["Type"] == "AWS::IAM::Role"
        for target in props["Targets"].values():
            assert target["ResourceTags"]["ialr-chaos"] == {"Ref": "ChaosTagValue"}


def test_roles_name_every_action_and_scope_targets_by_tag(template: dict[str, Any]) -> None:
    roles = _of_type(template, "AWS::IAM::Role")
    assert roles
    for role in roles.values():
        for statement in role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]:
            assert all("*" not in action for action in statement["Action"])
            if statement["Sid"].startswith("TaggedTargets"):
                condition = statement["Condition"]["StringEquals"]
                assert condition == {"aws:ResourceTag/ialr-chaos": {"Ref": "ChaosTagValue"}}


def test_checked_in_file_exists_beside_the_others() -> None:
    path = Path(__file__).resolve().parents[2] / "phases" / f"{NAME}.yaml"
    assert path.read_text() == phases.render_phase(NAME)


def test_docs_table_is_generated_from_the_same_plan() -> None:
    from ial_resilience.aws import chaos_library

    doc = (Path(__file__).resolve().parents[2] / "docs" / "PHASE_00E.md").read_text()
    table = chaos_library.docs_table(phase_00e.library_plan(), phase_00e.template_id)
    assert table in doc, "docs/PHASE_00E.md drifted: run `python -m ial_resilience.aws.phase_00e`"


def test_a_fis_action_needing_a_wildcard_stops_the_render(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dataclasses import replace

    from ial_resilience.aws import fis_actions
    from ial_resilience.errors import InputError

    latency = fis_actions.FIS_ACTIONS["network.latency"]
    widened = replace(latency, iam_actions=(*latency.iam_actions, "ecs:*"))
    monkeypatch.setitem(fis_actions.FIS_ACTIONS, "network.latency", widened)
    with pytest.raises(InputError, match="FIS action family 'ecs': IAM action 'ecs:\\*'"):
        phases.render_phase(NAME)

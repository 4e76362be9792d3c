"""Phase 00c: the checked-in file is what the code renders, cfn-lint is silent, and the
template holds the same resources ``ialr observe setup --aws`` creates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

from ial_resilience.aws import observability, phases
from ial_resilience.aws.cfn import Ref, Sub
from ial_resilience.aws.obs_desired import desired_state
from ial_resilience.aws.obs_model import Kind
from ial_resilience.aws.obs_scope import Scope
from ial_resilience.aws.phase_00c import cfn_value
from ial_resilience.cli.main import main

NAME = observability.PHASE_NAME
PHASES_DIR = Path(__file__).resolve().parents[2] / "phases"
_CFN_LINT = "import sys; from cfnlint.runner import main; sys.exit(main())"


def _template() -> dict[str, Any]:
    decoded, matches = decode_str(phases.render_phase(NAME))
    assert matches == [] and decoded is not None
    return dict(decoded)


def _of_type(type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in _template()["Resources"].items() if v["Type"] == type_}


def test_phase_is_registered_under_its_name() -> None:
    assert NAME == "00c-enhanced-observability"
    assert phases.get_phase(NAME).filename == "00c-enhanced-observability.yaml"


def test_checked_in_phase_matches_the_renderer() -> None:
    path = PHASES_DIR / f"{NAME}.yaml"
    assert path.read_text() == phases.render_phase(NAME), (
        f"{path} drifted from the renderer: run `ialr observe render-phase`"
    )


def test_cfn_lint_finds_no_error_or_warning() -> None:
    linted = subprocess.run(
        [
            sys.executable,
            "-c",
            _CFN_LINT,
            "--format",
            "parseable",
            str(PHASES_DIR / f"{NAME}.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert linted.stdout.strip() == ""


def test_the_template_holds_every_desired_resource() -> None:
    counts = {
        "AWS::CloudWatch::Dashboard": Kind.DASHBOARD,
        "AWS::Logs::QueryDefinition": Kind.QUERY,
        "AWS::CloudWatch::Alarm": Kind.ALARM,
        "AWS::CloudWatch::CompositeAlarm": Kind.COMPOSITE_ALARM,
        "AWS::XRay::SamplingRule": Kind.SAMPLING_RULE,
        "AWS::XRay::Group": Kind.XRAY_GROUP,
        "AWS::ApplicationInsights::Application": Kind.APP_INSIGHTS,
    }
    desired = desired_state(Scope.cloudformation(), "${AlarmTopic}")
    for type_, kind in counts.items():
        assert len(_of_type(type_)) == sum(1 for i in desired if i.kind is kind), type_
    assert len(_of_type("AWS::SNS::Topic")) == 1
    assert len(_of_type("AWS::SNS::Subscription")) == 1


def test_alarms_page_the_topic_and_composites_wait_for_their_children() -> None:
    alarm = _of_type("AWS::CloudWatch::Alarm")["Alb5xxAlarm"]["Properties"]
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert alarm["AlarmName"] == {"Fn::Sub": "ialr-${Environment}-alb-5xx"}
    assert alarm["Dimensions"][0]["Value"] == {"Ref": "LoadBalancerFullName"}
    composite = _of_type("AWS::CloudWatch::CompositeAlarm")["SloApiAvailability1h5mCompositeAlarm"]
    assert composite["DependsOn"] == [
        "SloApiAvailability1h5mLongAlarm",
        "SloApiAvailability1h5mShortAlarm",
    ]
    assert (
        'ALARM("ialr-${Environment}-slo-api-availability-1h-5m-long")'
        in (composite["Properties"]["AlarmRule"]["Fn::Sub"])
    )


def test_subscription_only_with_an_email_and_dashboards_resolve_the_region() -> None:
    template = _template()
    assert template["Resources"]["AlarmEmailSubscription"]["Condition"] == "HasAlertEmail"
    body = template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    assert '"region":"${AWS::Region}"' in body and "${LoadBalancerFullName}" in body


def test_cfn_value_uses_ref_for_one_name_and_sub_otherwise() -> None:
    assert cfn_value({"a": ["${X}", "x-${X}", "plain", 3], "b": ("${AWS::Region}",)}) == {
        "a": [Ref("X"), Sub("x-${X}"), "plain", 3],
        "b": [Sub("${AWS::Region}")],
    }


def test_render_phase_check_reports_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["observe", "render-phase", "--check", "--output-dir", str(tmp_path)]) == 1
    assert "DRIFTED" in capsys.readouterr().out
    assert main(["observe", "render-phase", "--output-dir", str(tmp_path)]) == 0
    assert main(["observe", "render-phase", "--check", "--output-dir", str(tmp_path)]) == 0
    assert "up to date" in capsys.readouterr().out
    path = tmp_path / f"{NAME}.yaml"
    path.write_text(path.read_text().replace("ANOMALY_DETECTION_BAND(m1, 2)", "m1", 1))
    assert phases.drifted(NAME, tmp_path)
    assert main(["observe", "render-phase", "--check", "--output-dir", str(PHASES_DIR)]) == 0

"""Desired vs actual: comparison, create/update/unchanged, dry run, emulator gaps.

The AWS side is replaced by a recording double of :class:`Api` (the boundary this test is not
about); the moto-server tests run the same code over HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from ial_resilience.aws._session import AwsError, AwsNotFound, AwsTarget
from ial_resilience.aws.obs_api import matches
from ial_resilience.aws.obs_desired import desired_state
from ial_resilience.aws.obs_model import Desired, Kind
from ial_resilience.aws.obs_scope import Scope
from ial_resilience.aws.obs_setup import Action, SetupReport, reconcile, reconcile_kind

SCOPE = Scope.for_environment("unit")
TOPIC = "arn:aws:sns:us-east-1:123456789012:ialr-unit-alarms"
MOTO = AwsTarget(region="us-east-1", endpoint_url="http://127.0.0.1:5000")
AWS = AwsTarget(region="us-east-1")


class FakeApi:
    """Answers reads from ``listed``; records every call; ``fail`` raises for an operation."""

    def __init__(self, target: AwsTarget = MOTO, **listed: list[Any]) -> None:
        self.target = target
        self.scope = SCOPE
        self.listed = listed
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail: dict[str, Exception] = {}

    def _maybe_fail(self, operation: str) -> None:
        if operation in self.fail:
            raise self.fail[operation]

    def pages(self, service: str, operation: str, key: str, **params: Any) -> list[Any]:
        self._maybe_fail(operation)
        return list(self.listed.get(operation, []))

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        self._maybe_fail(operation)
        self.calls.append((operation, params))
        if operation == "get_dashboard":
            return dict(self.listed["get_dashboard"][0])
        return {}

    def writes(self) -> list[str]:
        return [op for op, _ in self.calls if op != "get_dashboard"]


def _items(kind: Kind) -> list[Desired]:
    return [item for item in desired_state(SCOPE, TOPIC) if item.kind is kind]


def _run(api: FakeApi, kind: Kind, dry_run: bool = False) -> list[tuple[str, Action]]:
    changes = reconcile_kind(api, _items(kind), dry_run)  # type: ignore[arg-type]
    return [(c.name, c.action) for c in changes]


# --- comparison -----------------------------------------------------------------------


def test_matches_ignores_extra_actual_fields_and_compares_numbers_as_floats() -> None:
    desired = {"Threshold": 10.0, "Period": 60, "AlarmActions": ["a"]}
    actual = {"Threshold": 10, "Period": 60.0, "AlarmActions": ["a"], "StateValue": "OK"}
    assert matches(desired, actual)
    assert not matches(desired, {**actual, "Threshold": 11})
    assert not matches(desired, {**actual, "AlarmActions": ["b"]})


def test_matches_empty_list_equals_missing_and_dimensions_have_no_order() -> None:
    assert matches({"OKActions": []}, {})
    assert not matches({"OKActions": ["x"]}, {})
    dims = [{"Name": "b", "Value": "2"}, {"Name": "a", "Value": "1"}]
    assert matches({"Dimensions": dims}, {"Dimensions": list(reversed(dims))})
    assert not matches({"Dimensions": dims}, {"Dimensions": dims[:1]})


def test_matches_booleans_are_not_numbers() -> None:
    assert matches({"ReturnData": True}, {"ReturnData": True})
    assert not matches({"ReturnData": True}, {"ReturnData": 1.5})
    assert not matches({"Enabled": False}, {"Enabled": True})


# --- reconcile ------------------------------------------------------------------------


def test_missing_alarms_are_created_and_present_ones_left_alone() -> None:
    existing = {**_items(Kind.ALARM)[0].spec, "StateValue": "OK"}
    api = FakeApi(describe_alarms=[existing])
    result = _run(api, Kind.ALARM)
    assert result[0] == (existing["AlarmName"], Action.UNCHANGED)
    assert {action for _, action in result[1:]} == {Action.CREATE}
    assert api.writes() == ["put_metric_alarm"] * (len(result) - 1)


def test_a_changed_threshold_is_updated() -> None:
    drifted = {**_items(Kind.ALARM)[0].spec, "Threshold": 99.0}
    api = FakeApi(describe_alarms=[drifted])
    assert _run(api, Kind.ALARM)[0] == (drifted["AlarmName"], Action.UPDATE)
    assert api.calls[0] == ("put_metric_alarm", dict(_items(Kind.ALARM)[0].spec))


def test_dry_run_reads_and_writes_nothing() -> None:
    api = FakeApi()
    result = _run(api, Kind.ALARM, dry_run=True)
    assert {action for _, action in result} == {Action.CREATE}
    assert api.calls == []


def test_dashboards_compare_parsed_bodies() -> None:
    wanted = _items(Kind.DASHBOARD)[0]
    reformatted = json.dumps(json.loads(wanted.spec["DashboardBody"]), indent=4)
    api = FakeApi(
        list_dashboards=[{"DashboardName": wanted.name}],
        get_dashboard=[{"DashboardName": wanted.name, "DashboardBody": reformatted}],
    )
    result = dict(_run(api, Kind.DASHBOARD))
    assert result[wanted.name] is Action.UNCHANGED
    assert api.writes() == ["put_dashboard", "put_dashboard"]


def test_query_update_keeps_the_definition_id() -> None:
    first = _items(Kind.QUERY)[0]
    old = {
        "name": first.name,
        "queryString": "fields @message",
        "queryDefinitionId": "q-1",
        "logGroupNames": ["/ialr/unit/app"],
    }
    api = FakeApi(describe_query_definitions=[old])
    assert _run(api, Kind.QUERY)[0] == (first.name, Action.UPDATE)
    operation, params = api.calls[0]
    assert operation == "put_query_definition" and params["queryDefinitionId"] == "q-1"
    assert "queryDefinitionId" not in api.calls[1][1]  # the others are new


def test_sampling_rule_update_leaves_out_the_version() -> None:
    rule = _items(Kind.SAMPLING_RULE)[0]
    api = FakeApi(get_sampling_rules=[{"SamplingRule": {**rule.spec, "FixedRate": 0.5}}])
    assert _run(api, Kind.SAMPLING_RULE)[0] == (rule.name, Action.UPDATE)
    operation, params = api.calls[0]
    assert operation == "update_sampling_rule" and "Version" not in params["SamplingRuleUpdate"]
    assert api.calls[1][0] == "create_sampling_rule"


def test_xray_group_update_or_create() -> None:
    errors, slow = _items(Kind.XRAY_GROUP)
    api = FakeApi(get_groups=[{**errors.spec, "FilterExpression": "fault = true"}])
    assert _run(api, Kind.XRAY_GROUP) == [(errors.name, Action.UPDATE), (slow.name, Action.CREATE)]
    assert [op for op, _ in api.calls] == ["update_group", "create_group"]


class AppInsightsApi(FakeApi):
    def __init__(self, info: Mapping[str, Any] | None) -> None:
        super().__init__()
        self.info = info

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        if operation == "describe_application":
            if self.info is None:
                raise AwsNotFound("no app", code="ResourceNotFoundException")
            return {"ApplicationInfo": dict(self.info)}
        if operation == "get_group":
            self.calls.append((operation, params))
            raise AwsNotFound("no group", code="NotFoundException")
        return super().call(service, operation, **params)


def test_application_insights_created_with_its_resource_group() -> None:
    api = AppInsightsApi(None)
    assert _run(api, Kind.APP_INSIGHTS) == [("ialr-unit-resources", Action.CREATE)]
    assert [op for op, _ in api.calls] == ["get_group", "create_group", "create_application"]
    query = json.loads(api.calls[1][1]["ResourceQuery"]["Query"])
    assert query["TagFilters"] == [{"Key": "Environment", "Values": ["unit"]}]


def test_application_insights_field_names_are_mapped() -> None:
    info = {
        "ResourceGroupName": "ialr-unit-resources",
        "AutoConfigEnabled": True,
        "CWEMonitorEnabled": True,
        "OpsCenterEnabled": False,
    }
    assert _run(AppInsightsApi(info), Kind.APP_INSIGHTS)[0][1] is Action.UNCHANGED
    changed = AppInsightsApi({**info, "AutoConfigEnabled": False})
    assert _run(changed, Kind.APP_INSIGHTS)[0][1] is Action.UPDATE
    assert changed.calls[0][1]["AutoConfigEnabled"] is True


# --- an endpoint that lacks an API ----------------------------------------------------


def test_an_emulator_without_the_read_api_marks_the_kind_unsupported() -> None:
    api = FakeApi()
    api.fail["get_sampling_rules"] = AwsNotFound("404", code="404")
    changes = reconcile_kind(api, _items(Kind.SAMPLING_RULE), False)  # type: ignore[arg-type]
    assert {c.action for c in changes} == {Action.UNSUPPORTED}
    assert "does not implement" in changes[0].detail and "00c phase" in changes[0].detail


def test_an_emulator_failing_the_first_write_skips_the_rest_of_the_kind() -> None:
    api = FakeApi()
    api.fail["put_composite_alarm"] = AwsError("500", code="500")
    changes = reconcile_kind(api, _items(Kind.COMPOSITE_ALARM), False)  # type: ignore[arg-type]
    assert {c.action for c in changes} == {Action.UNSUPPORTED}
    assert len(changes) == len(_items(Kind.COMPOSITE_ALARM))


def test_against_aws_itself_the_same_error_is_raised() -> None:
    api = FakeApi(target=AWS)
    api.fail["put_composite_alarm"] = AwsError("500", code="500")
    with pytest.raises(AwsError):
        reconcile_kind(api, _items(Kind.COMPOSITE_ALARM), False)  # type: ignore[arg-type]


def test_a_real_error_from_an_emulator_is_raised_too() -> None:
    api = FakeApi()
    api.fail["put_metric_alarm"] = AwsError("bad", code="ValidationError")
    with pytest.raises(AwsError, match="bad"):
        reconcile_kind(api, _items(Kind.ALARM), False)  # type: ignore[arg-type]


# --- report ---------------------------------------------------------------------------


def test_report_summary_says_when_nothing_changes() -> None:
    api = FakeApi(describe_alarms=[dict(item.spec) for item in _items(Kind.ALARM)])
    report = reconcile(api, _items(Kind.ALARM))  # type: ignore[arg-type]
    assert not report.changed
    assert report.summary().startswith("nothing to change: ")
    assert report.as_json()["counts"]["unchanged"] == len(_items(Kind.ALARM))


def test_report_summary_counts_for_a_dry_run() -> None:
    report = reconcile(FakeApi(), _items(Kind.DASHBOARD), dry_run=True)  # type: ignore[arg-type]
    assert isinstance(report, SetupReport) and report.changed
    assert report.summary() == "would create 3, update 0, unchanged 0, unsupported 0"

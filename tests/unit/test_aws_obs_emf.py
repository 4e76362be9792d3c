"""EMF lines (as the observability library writes them) parsed back into PutMetricData data."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ial_resilience.aws.obs_emf import parse_line, rolled_up
from ial_resilience.errors import InputError
from ial_resilience.observability.metrics import Kind, emf_document


def test_the_librarys_emf_document_round_trips() -> None:
    line = json.dumps(
        emf_document(
            "IaL/Business",
            Kind.TIMING,
            "deployment.duration",
            1234.5,
            {"stack": "orders", "env": "prod"},
            1_700_000_000.25,
        )
    )
    [datum] = parse_line(line)
    assert (datum.namespace, datum.name, datum.values) == (
        "IaL/Business",
        "deployment.duration",
        (1234.5,),
    )
    assert datum.dimensions == (("stack", "orders"), ("env", "prod"))
    assert datum.unit == "Milliseconds"
    assert datum.timestamp == datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=UTC)
    metric = datum.as_metric_datum()
    assert metric["Value"] == 1234.5 and metric["StorageResolution"] == 60
    assert metric["Dimensions"] == [
        {"Name": "stack", "Value": "orders"},
        {"Name": "env", "Value": "prod"},
    ]


def test_several_dimension_sets_metrics_and_value_arrays() -> None:
    document = {
        "_aws": {
            "Timestamp": 1_700_000_000_000,
            "CloudWatchMetrics": [
                {
                    "Namespace": "IaL/Chaos",
                    "Dimensions": [["experiment"], ["experiment", "status"], []],
                    "Metrics": [
                        {"Name": "chaos.passed", "Unit": "Count"},
                        {
                            "Name": "chaos.time_to_recover",
                            "Unit": "Milliseconds",
                            "StorageResolution": 1,
                        },
                    ],
                }
            ],
        },
        "experiment": "db-latency",
        "status": "passed",
        "chaos.passed": 1,
        "chaos.time_to_recover": [120, 80.5],
    }
    data = parse_line(json.dumps(document))
    assert len(data) == 6
    assert {d.dimensions for d in data} == {
        (("experiment", "db-latency"),),
        (("experiment", "db-latency"), ("status", "passed")),
        (),
    }
    recover = next(d for d in data if d.name == "chaos.time_to_recover")
    assert recover.values == (120.0, 80.5) and recover.resolution == 1
    assert recover.as_metric_datum()["Values"] == [120.0, 80.5]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "invalid JSON"),
        ('{"value": 1}', "no _aws.CloudWatchMetrics"),
        ('{"_aws": {"CloudWatchMetrics": []}}', "Timestamp"),
        ('{"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Metrics": []}]}}', "Namespace"),
        (
            '{"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "N", "Dimensions": '
            '[["svc"]], "Metrics": [{"Name": "m"}]}]}, "m": 1}',
            "dimension(s) ['svc']",
        ),
        (
            '{"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "N", '
            '"Metrics": [{"Name": "m"}]}]}, "m": "fast"}',
            "number or a list of numbers",
        ),
        (
            '{"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "N", '
            '"Metrics": [{"Unit": "Count"}]}]}}',
            "has no Name",
        ),
    ],
)
def test_bad_lines_name_the_line_and_the_problem(line: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_line(line, where="app.log:7")
    assert caught.value.message.startswith("app.log:7: not an EMF document")
    assert problem in caught.value.message
    assert "embedded metric format" in caught.value.hint


def test_rollups_add_the_dimension_sets_a_selector_needs() -> None:
    line = json.dumps(
        emf_document(
            "IaL/Business",
            Kind.COUNT,
            "http.requests",
            1,
            {"service": "api", "outcome": "ok"},
            1_700_000_000,
        )
    )
    [datum] = parse_line(line)
    rollups = {"http.requests": [("outcome", "service"), ("service",), ("region",)]}
    dims = [d.dimensions for d in rolled_up(datum, rollups)]
    assert dims == [(("service", "api"), ("outcome", "ok")), (("service", "api"),)]
    assert rolled_up(datum, {"other": [()]}) == [datum]
    assert [d.dimensions for d in rolled_up(datum, {"http.requests": [()]})][1] == ()
